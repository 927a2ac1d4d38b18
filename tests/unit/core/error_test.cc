// sc::Errc names, the status a client sees for each, and the one peer-status → Errc table.
#include <gtest/gtest.h>

#include "common/core/error.h"
#include "common/core/http_status.h"

namespace sc {

TEST(Errc, CancelledHasItsOwnNameAndStatus) {
  EXPECT_EQ(errc_name(Errc::cancelled), "cancelled");
  EXPECT_EQ(errc_http_status(Errc::cancelled), 499);
  EXPECT_NE(errc_name(Errc::cancelled), errc_name(Errc::internal));
}

TEST(Errc, PeerStatusesMapByName) {
  EXPECT_EQ(errc_for_http_status(404), Errc::not_found);
  EXPECT_EQ(errc_for_http_status(401), Errc::unauthorized);
  EXPECT_EQ(errc_for_http_status(413), Errc::too_large);
  EXPECT_EQ(errc_for_http_status(429), Errc::unavailable);
  EXPECT_EQ(errc_for_http_status(504), Errc::timeout);
  EXPECT_EQ(errc_for_http_status(418), Errc::invalid_argument);
  EXPECT_EQ(errc_for_http_status(502), Errc::unavailable);
  // Every code maps back to the status it names.
  for (Errc c : {Errc::not_found, Errc::conflict, Errc::gone, Errc::too_large, Errc::unauthorized, Errc::forbidden,
                 Errc::timeout}) {
    EXPECT_EQ(errc_for_http_status(errc_http_status(c)), c) << errc_name(c);
  }
}

}  // namespace sc
