// The README's echo server on Asio: one io_context, one thread, each connection's whole
// messages delivered to completion handlers and sent back to their sender.
#include <sys/socket.h>

#include <cstdlib>
#include <memory>

#include <sockframe/asio.hpp>
#include <sockframe/sockframe.hpp>

using Conn = std::shared_ptr<sockframe::AsioConnection>;

void echo(Conn conn) {
    conn->async_receive([conn](std::error_code ec, sockframe::Received r) {
        if (ec || r.status != sockframe::ReceiveStatus::message) return;  // end or framing error: closed with conn
        send(conn->socket(), r.message.bytes.data(), r.message.bytes.size(), MSG_NOSIGNAL);
        echo(conn);
    });
}

void accept(asio::ip::tcp::acceptor& acceptor, sockframe::Receiver& receiver) {
    acceptor.async_accept([&](std::error_code ec, asio::ip::tcp::socket s) {
        if (!ec)
            echo(std::make_shared<sockframe::AsioConnection>(acceptor.get_executor(), receiver.adopt(s.release())));
        accept(acceptor, receiver);
    });
}

int main(int argc, char** argv) {
    auto desc = sockframe::load_description_file(argc > 1 ? argv[1] : "dns");
    auto receiver = sockframe::open_receiver(desc);  // kernel parser, or userspace with a warning
    asio::io_context io;
    auto port = static_cast<unsigned short>(argc > 2 ? std::atoi(argv[2]) : 5353);
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), port});
    accept(acceptor, *receiver);
    io.run();
}
