// A complete echo server on sockframe: every whole message goes back to its sender.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <thread>

#include <sockframe/sockframe.hpp>

int main(int argc, char** argv) {
    auto desc = sockframe::load_description_file(argc > 1 ? argv[1] : "dns");
    auto receiver = sockframe::open_receiver(desc);  // kernel parser, or userspace with a warning
    int server = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{AF_INET, htons(argc > 2 ? std::atoi(argv[2]) : 5353), {htonl(INADDR_LOOPBACK)}, {}};
    if (bind(server, (sockaddr*)&addr, sizeof addr) || listen(server, 64)) return 1;
    for (;;) {
        std::shared_ptr conn = receiver->adopt(accept(server, nullptr, nullptr));
        std::thread([conn] {
            for (auto r = conn->receive(); r.status == sockframe::ReceiveStatus::message; r = conn->receive())
                send(conn->socket(), r.message.bytes.data(), r.message.bytes.size(), MSG_NOSIGNAL);
        }).detach();
    }
}
