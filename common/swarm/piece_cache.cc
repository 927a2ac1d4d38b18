#include "common/swarm/piece_cache.h"

#include <algorithm>
#include <cstring>
#include <list>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

#include <libtorrent/disk_buffer_holder.hpp>
#include <libtorrent/file_storage.hpp>
#include <libtorrent/hasher.hpp>
#include <libtorrent/peer_request.hpp>
#include <libtorrent/storage_defs.hpp>

#include "common/swarm/piece_arena.h"

namespace sc {
namespace {

constexpr int kBlock = lt::default_block_size;

struct Key {
  int storage;
  int piece;
};

// Memory for one piece, from the arena. Peers' reads of a complete piece are served from it in
// place, so it stays allocated (and is not reused) until the last of them is handed back.
struct Buffer {
  char* bytes = nullptr;
  int size = 0;
  int pins = 0;          // blocks lent out by async_read
  bool orphan = false;   // its piece was dropped while pinned: back to the arena once unpinned
};

struct CachedPiece {
  Buffer* buf = nullptr;  // exactly the piece's size
  int missing = 0;               // blocks not received yet
  std::vector<bool> have;        // per block
  std::list<Key>::iterator lru;  // valid once complete (missing == 0)

  char* data() const { return buf->bytes; }
  int size() const { return buf->size; }
};

using WriteHandler = std::function<void(lt::storage_error const&)>;

class PieceCache final : public lt::disk_interface, public lt::buffer_allocator_interface {
 public:
  PieceCache(std::unique_ptr<lt::disk_interface> inner, lt::io_context& ioc, std::int64_t budget)
      : inner_(std::move(inner)), ioc_(ioc), arena_(static_cast<std::size_t>(budget)) {}

  lt::storage_holder new_torrent(lt::storage_params const& p, std::shared_ptr<void> const& t) override {
    lt::storage_holder h = inner_->new_torrent(p, t);
    const int idx = static_cast<int>(static_cast<lt::storage_index_t>(h));
    Storage& s = storages_[idx];
    s.inner = std::move(h);
    s.files = &p.files;
    return lt::storage_holder(lt::storage_index_t(idx), *this);
  }

  void remove_torrent(lt::storage_index_t st) override {
    auto it = storages_.find(static_cast<int>(st));
    if (it == storages_.end()) return;
    flush_all(st, it->second);
    drop_all(it->second);
    storages_.erase(it);  // its holder removes the storage from inner_
  }

  // A block of a cached piece is lent in place (no copy): the piece's buffer is pinned until
  // libtorrent hands the block back through free_disk_buffer.
  void async_read(lt::storage_index_t st, lt::peer_request const& r,
                  std::function<void(lt::disk_buffer_holder, lt::storage_error const&)> handler,
                  lt::disk_job_flags_t flags) override {
    CachedPiece* p = complete(st, r.piece);
    if (p == nullptr || r.start < 0 || r.length <= 0 || r.length > kBlock || r.start > p->size() - r.length)
      return inner_->async_read(st, r, std::move(handler), flags);
    touch(*p);
    ++p->buf->pins;
    lt::post(ioc_, [h = std::move(handler), b = lt::disk_buffer_holder(*this, p->data() + r.start, r.length)]() mutable {
      h(std::move(b), lt::storage_error());
    });
  }

  // A block of a cached piece is only copied, and reported written at once; the piece goes to
  // the file in one write when its last block arrives (that write's outcome is the last
  // block's). A block the cache cannot take goes to the file as it is, after whatever the
  // cache held of its piece.
  bool async_write(lt::storage_index_t st, lt::peer_request const& r, char const* buf,
                   std::shared_ptr<lt::disk_observer> o, WriteHandler handler, lt::disk_job_flags_t flags) override {
    auto s = storages_.find(static_cast<int>(st));
    CachedPiece* p = s == storages_.end() ? nullptr : take_block(s->first, s->second, r, buf);
    if (p == nullptr) {
      if (s != storages_.end()) flush(st, s->second, static_cast<int>(r.piece));
      return inner_->async_write(st, r, buf, std::move(o), std::move(handler), flags);
    }
    if (p->missing > 0) {
      lt::post(ioc_, [h = std::move(handler)] { h(lt::storage_error()); });
      return false;
    }
    return inner_->async_write(st, lt::peer_request{r.piece, 0, p->size()}, p->data(), std::move(o),
                               std::move(handler), flags);
  }

  void async_hash(lt::storage_index_t st, lt::piece_index_t piece, lt::span<lt::sha256_hash> v2,
                  lt::disk_job_flags_t flags,
                  std::function<void(lt::piece_index_t, lt::sha1_hash const&, lt::storage_error const&)> handler) override {
    CachedPiece* p = complete(st, piece);
    // v2 block hashes follow the v2 piece layout, which differs at file ends: left to inner_.
    if (p == nullptr || !v2.empty()) {
      flush_one(st, piece);  // a recheck of a piece still arriving reads what the file has
      return inner_->async_hash(st, piece, v2, flags, std::move(handler));
    }
    touch(*p);
    lt::sha1_hash h;
    if (flags & lt::disk_interface::v1_hash) h = lt::hasher(p->data(), p->size()).final();
    lt::post(ioc_, [piece, h, handler = std::move(handler)] { handler(piece, h, lt::storage_error()); });
  }

  void async_hash2(lt::storage_index_t st, lt::piece_index_t piece, int offset, lt::disk_job_flags_t flags,
                   std::function<void(lt::piece_index_t, lt::sha256_hash const&, lt::storage_error const&)> handler) override {
    flush_one(st, piece);
    inner_->async_hash2(st, piece, offset, flags, std::move(handler));
  }

  void async_move_storage(lt::storage_index_t st, std::string p, lt::move_flags_t flags,
                          std::function<void(lt::status_t, std::string const&, lt::storage_error const&)> handler) override {
    flush_storage(st);
    inner_->async_move_storage(st, std::move(p), flags, std::move(handler));
  }

  void async_release_files(lt::storage_index_t st, std::function<void()> handler) override {
    flush_storage(st);
    inner_->async_release_files(st, std::move(handler));
  }

  void async_check_files(lt::storage_index_t st, lt::add_torrent_params const* resume,
                         lt::aux::vector<std::string, lt::file_index_t> links,
                         std::function<void(lt::status_t, lt::storage_error const&)> handler) override {
    inner_->async_check_files(st, resume, std::move(links), std::move(handler));
  }

  void async_stop_torrent(lt::storage_index_t st, std::function<void()> handler) override {
    flush_storage(st);
    inner_->async_stop_torrent(st, std::move(handler));
  }

  void async_rename_file(lt::storage_index_t st, lt::file_index_t index, std::string name,
                         std::function<void(std::string const&, lt::file_index_t, lt::storage_error const&)> handler) override {
    flush_storage(st);
    inner_->async_rename_file(st, index, std::move(name), std::move(handler));
  }

  void async_delete_files(lt::storage_index_t st, lt::remove_flags_t options,
                          std::function<void(lt::storage_error const&)> handler) override {
    if (auto it = storages_.find(static_cast<int>(st)); it != storages_.end()) drop_all(it->second);
    inner_->async_delete_files(st, options, std::move(handler));
  }

  void async_set_file_priority(lt::storage_index_t st, lt::aux::vector<lt::download_priority_t, lt::file_index_t> prio,
                               std::function<void(lt::storage_error const&,
                                                  lt::aux::vector<lt::download_priority_t, lt::file_index_t>)> handler) override {
    flush_storage(st);  // blocks of files leaving the download go where inner_ puts them now
    inner_->async_set_file_priority(st, std::move(prio), std::move(handler));
  }

  // The piece failed its check: its blocks are forgotten, never written.
  void async_clear_piece(lt::storage_index_t st, lt::piece_index_t piece,
                         std::function<void(lt::piece_index_t)> handler) override {
    if (auto it = storages_.find(static_cast<int>(st)); it != storages_.end()) drop(it->second, static_cast<int>(piece));
    inner_->async_clear_piece(st, piece, std::move(handler));
  }

  void abort(bool wait) override {
    for (auto& [idx, s] : storages_) flush_all(lt::storage_index_t(idx), s);
    inner_->abort(wait);
  }

  void update_stats_counters(lt::counters& c) const override { inner_->update_stats_counters(c); }
  std::vector<lt::open_file_state> get_status(lt::storage_index_t st) const override { return inner_->get_status(st); }
  void submit_jobs() override { inner_->submit_jobs(); }
  void settings_updated() override { inner_->settings_updated(); }

  // A block lent by async_read comes back: unpin the buffer it lies in.
  void free_disk_buffer(char* b) override {
    auto it = buffers_.upper_bound(b);
    if (it == buffers_.begin()) return;
    Buffer& buf = (--it)->second;
    if (b >= buf.bytes + buf.size || buf.pins == 0) return;  // not a block this cache lent
    if (--buf.pins == 0 && buf.orphan) release(buf);
  }

 private:
  struct Storage {
    lt::storage_holder inner;  // keeps inner_'s storage for this torrent alive
    lt::file_storage const* files = nullptr;
    std::unordered_map<int, CachedPiece> pieces;
  };

  CachedPiece* complete(lt::storage_index_t st, lt::piece_index_t piece) {
    auto s = storages_.find(static_cast<int>(st));
    if (s == storages_.end()) return nullptr;
    auto p = s->second.pieces.find(static_cast<int>(piece));
    return p != s->second.pieces.end() && p->second.missing == 0 ? &p->second : nullptr;
  }

  // Copies one block into its piece's buffer, starting one for a new piece; nullptr when the
  // cache cannot take it (not a whole block at a block offset, a piece already complete, or
  // no room).
  CachedPiece* take_block(int storage, Storage& s, lt::peer_request const& r, char const* buf) {
    if (r.start < 0 || r.start % kBlock != 0 || r.length <= 0) return nullptr;
    const int index = static_cast<int>(r.piece);
    auto it = s.pieces.find(index);
    if (it == s.pieces.end()) {
      const int size = s.files->piece_size(r.piece);
      if (size <= 0) return nullptr;
      CachedPiece fresh;
      fresh.buf = take_buffer(size);
      if (fresh.buf == nullptr) return nullptr;
      fresh.missing = (size + kBlock - 1) / kBlock;
      fresh.have.assign(static_cast<std::size_t>(fresh.missing), false);
      it = s.pieces.emplace(index, std::move(fresh)).first;
    }
    CachedPiece& p = it->second;
    const auto block = static_cast<std::size_t>(r.start / kBlock);
    if (p.missing == 0 || r.start >= p.size() || r.length != std::min(kBlock, p.size() - r.start) || p.have[block])
      return nullptr;
    std::memcpy(p.data() + r.start, buf, static_cast<std::size_t>(r.length));
    p.have[block] = true;
    if (--p.missing == 0) p.lru = lru_.insert(lru_.end(), Key{storage, index});
    return &p;
  }

  void touch(CachedPiece& p) { lru_.splice(lru_.end(), lru_, p.lru); }

  // Writes the blocks a piece still being downloaded holds to the file, and forgets the piece
  // (a complete piece is already in the file). Write errors are not reported here: a block
  // that did not reach the file fails its piece's check later, and is downloaded again.
  void flush(lt::storage_index_t st, Storage& s, int piece) {
    auto it = s.pieces.find(piece);
    if (it == s.pieces.end()) return;
    CachedPiece& p = it->second;
    for (std::size_t b = 0; p.missing > 0 && b < p.have.size(); ++b) {
      if (!p.have[b]) continue;
      const int start = static_cast<int>(b) * kBlock;
      inner_->async_write(st, lt::peer_request{lt::piece_index_t(piece), start, std::min(kBlock, p.size() - start)},
                          p.data() + start, nullptr, [](lt::storage_error const&) {}, {});
    }
    drop(s, piece);
  }

  void flush_one(lt::storage_index_t st, lt::piece_index_t piece) {
    auto s = storages_.find(static_cast<int>(st));
    if (s == storages_.end()) return;
    auto p = s->second.pieces.find(static_cast<int>(piece));
    if (p != s->second.pieces.end() && p->second.missing > 0) flush(st, s->second, static_cast<int>(piece));
  }

  // Pieces still being downloaded go to the file; complete ones stay cached.
  void flush_storage(lt::storage_index_t st) {
    if (auto s = storages_.find(static_cast<int>(st)); s != storages_.end()) flush_all(st, s->second);
  }

  void flush_all(lt::storage_index_t st, Storage& s) {
    std::vector<int> partial;
    for (auto& [index, p] : s.pieces)
      if (p.missing > 0) partial.push_back(index);
    for (int index : partial) flush(st, s, index);
  }

  // A buffer for a piece of `size` bytes, once the least recently used complete pieces have
  // made room in the arena; nullptr when pieces still arriving (or lent blocks) fill it.
  Buffer* take_buffer(int size) {
    for (;;) {
      if (char* at = arena_.take(static_cast<std::size_t>(size)))
        return &buffers_.emplace(at, Buffer{at, size}).first->second;
      if (lru_.empty()) return nullptr;
      const Key k = lru_.front();
      drop(storages_.at(k.storage), k.piece);
    }
  }

  void release(Buffer& b) {
    char* at = b.bytes;
    arena_.give(at, static_cast<std::size_t>(b.size));
    buffers_.erase(at);
  }

  void drop(Storage& s, int piece) {
    auto it = s.pieces.find(piece);
    if (it == s.pieces.end()) return;
    if (it->second.missing == 0) lru_.erase(it->second.lru);
    Buffer* b = it->second.buf;
    s.pieces.erase(it);
    if (b->pins > 0)
      b->orphan = true;
    else
      release(*b);
  }

  void drop_all(Storage& s) {
    while (!s.pieces.empty()) drop(s, s.pieces.begin()->first);
  }

  std::unique_ptr<lt::disk_interface> inner_;  // declared first: outlives the holders in storages_
  lt::io_context& ioc_;
  PieceArena arena_;
  std::map<const char*, Buffer, std::less<>> buffers_;  // every buffer taken from arena_, by address
  std::unordered_map<int, Storage> storages_;
  std::list<Key> lru_;  // complete pieces, least recently used first
};

}  // namespace

std::unique_ptr<lt::disk_interface> make_piece_cache(std::unique_ptr<lt::disk_interface> inner,
                                                     lt::io_context& ioc, std::int64_t budget_bytes) {
  if (budget_bytes <= 0) return inner;
  return std::make_unique<PieceCache>(std::move(inner), ioc, budget_bytes);
}

}  // namespace sc
