// Asynchronous receive of whole messages on an Asio io_context (standalone Asio,
// Debian's libasio-dev; header-only, include it only where Asio is available).
//
//   sockframe::AsioConnection conn(io, receiver->adopt(fd));
//   conn.async_receive([&](std::error_code ec, sockframe::Received r) { ... });
//
// The completion handler gets every outcome of Connection::receive() — a whole
// message (its bytes valid until the next receive on this connection), a framing
// error with every earlier message delivered, or the end — and an Asio error
// (operation_aborted after cancel()). One receive may be outstanding at a time, as
// for any Asio I/O object. Any completion token works (callbacks, use_future,
// use_awaitable, deferred).
#pragma once

#include <poll.h>

#include <asio.hpp>
#include <memory>
#include <system_error>
#include <utility>

#include <sockframe/connection.hpp>

#pragma GCC visibility push(default)  // the public API: exported from libsockframe.so

namespace sockframe {

class AsioConnection {
public:
    AsioConnection(const asio::any_io_executor& executor, std::unique_ptr<Connection> connection)
        : state_(std::make_shared<State>(executor, std::move(connection))) {}
    AsioConnection(asio::io_context& io, std::unique_ptr<Connection> connection)
        : AsioConnection(io.get_executor(), std::move(connection)) {}
    // A pending receive completes with operation_aborted; the connection is closed once it has.
    ~AsioConnection() {
        if (state_) cancel();
    }
    AsioConnection(AsioConnection&&) = default;
    AsioConnection& operator=(AsioConnection&&) = default;

    // Completes with the next whole message, a framing error, or the end:
    // signature void(std::error_code, Received).
    template <typename CompletionToken>
    auto async_receive(CompletionToken&& token) {
        return asio::async_initiate<CompletionToken, void(std::error_code, Received)>(
            [](auto handler, std::shared_ptr<State> s) {
                s->cancelled = false;
                receive_op(std::move(s), std::move(handler));
            },
            token, state_);
    }

    // Ends the pending receive with asio::error::operation_aborted.
    void cancel() {
        state_->cancelled = true;
        state_->readable.cancel();
    }

    Connection& connection() { return *state_->connection; }
    // The application's socket: write replies here.
    int socket() const { return state_->connection->socket(); }
    asio::any_io_executor get_executor() const { return state_->readable.get_executor(); }

private:
    struct State {
        std::unique_ptr<Connection> connection;
        // Readiness of poll_fd(), which the connection owns: released, never closed, here.
        asio::posix::stream_descriptor readable;
        bool cancelled = false;
        bool recheck = false;  // our own cancel of a wait that would have missed data

        State(const asio::any_io_executor& executor, std::unique_ptr<Connection> c)
            : connection(std::move(c)), readable(executor, connection->poll_fd()) {
            // Asio's epoll reactor is edge-triggered: receive until would_block before waiting.
            connection->set_nonblocking(true);
        }
        ~State() { readable.release(); }
    };

    template <typename Handler>
    static void receive_op(std::shared_ptr<State> s, Handler handler) {
        Received r = s->connection->receive();
        auto executor = asio::get_associated_executor(handler, s->readable.get_executor());
        if (r.status != ReceiveStatus::would_block) {
            // Posted, not called: a handler that receives again must not recurse.
            asio::post(executor, [handler = std::move(handler), r, s]() mutable { handler(std::error_code{}, r); });
            return;
        }
        s->readable.async_wait(
            asio::posix::stream_descriptor::wait_read,
            asio::bind_executor(executor, [s, handler = std::move(handler)](std::error_code ec) mutable {
                if (ec == asio::error::operation_aborted && std::exchange(s->recheck, false) && !s->cancelled) ec = {};
                if (ec)
                    handler(ec, Received{});
                else
                    receive_op(std::move(s), std::move(handler));
            }));
        // Asio queues a wait without looking at the descriptor, and in a multi-threaded
        // io_context another thread's reactor may have taken the readiness edge between
        // the would_block above and this wait: if data is there now, wake the wait ourselves.
        pollfd p{s->connection->poll_fd(), POLLIN, 0};
        if (poll(&p, 1, 0) > 0) {
            s->recheck = true;
            s->readable.cancel();
        }
    }

    std::shared_ptr<State> state_;
};

}  // namespace sockframe

#pragma GCC visibility pop
