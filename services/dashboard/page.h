#pragma once
// The dashboard's HTML page (services/dashboard/page.html, embedded at build time).
#include <string_view>

namespace sc::dashboard {

std::string_view page_html();

}  // namespace sc::dashboard
