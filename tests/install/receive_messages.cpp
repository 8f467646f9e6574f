// A program outside the sockframe tree, built against an installed sockframe
// (pkg-config) or with sockframe as a meson subproject (scripts/test-install.sh):
// it frames DNS-over-TCP messages sent over a real loopback connection, coalesced
// and split byte by byte, and checks every byte.
// usage: receive_messages DESCRIPTION kernel|userspace
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <sockframe/sockframe.hpp>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: receive_messages DESCRIPTION kernel|userspace\n");
        return 2;
    }
    auto desc = sockframe::load_description_file(argv[1]);  // a bare name finds the installed description
    sockframe::ReceiverOptions options;
    options.mode = std::string(argv[2]) == "kernel" ? sockframe::Mode::kernel : sockframe::Mode::userspace;
    sockframe::ReceiverTimings timings;
    auto receiver = sockframe::open_receiver(desc, options, &timings);

    int server = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{AF_INET, 0, {htonl(INADDR_LOOPBACK)}, {}};
    socklen_t len = sizeof addr;
    if (bind(server, (sockaddr*)&addr, len) || listen(server, 1) || getsockname(server, (sockaddr*)&addr, &len))
        return 1;
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client, (sockaddr*)&addr, sizeof addr)) return 1;
    std::unique_ptr<sockframe::Connection> conn = receiver->adopt(accept(server, nullptr, nullptr));

    // 20 DNS messages (2-byte length, then 12 + i bytes): ten in one write, ten a byte at a time.
    std::vector<std::vector<uint8_t>> sent;
    for (int i = 0; i < 20; i++) {
        std::vector<uint8_t> m = {0, static_cast<uint8_t>(12 + i)};
        m.insert(m.end(), 12 + i, static_cast<uint8_t>('A' + i));
        sent.push_back(m);
    }
    std::thread writer([&] {
        std::vector<uint8_t> coalesced;
        for (int i = 0; i < 10; i++) coalesced.insert(coalesced.end(), sent[i].begin(), sent[i].end());
        send(client, coalesced.data(), coalesced.size(), MSG_NOSIGNAL);
        for (int i = 10; i < 20; i++)
            for (uint8_t b : sent[i]) send(client, &b, 1, MSG_NOSIGNAL);
        close(client);
    });
    size_t n = 0;
    auto r = conn->receive();
    for (; r.status == sockframe::ReceiveStatus::message; r = conn->receive(), n++) {
        if (n >= sent.size() || std::vector<uint8_t>(r.message.bytes.begin(), r.message.bytes.end()) != sent[n]) {
            std::fprintf(stderr, "message %zu differs from what was sent\n", n);
            writer.join();
            return 1;
        }
    }
    writer.join();
    const char* parser = timings.precompiled ? "precompiled" : timings.from_cache ? "cached" : "compiled";
    std::printf("received %zu of %zu messages on the %s path%s%s, then %s\n", n, sent.size(), conn->mode(),
                std::string(conn->mode()) == "kernel" ? "; parser " : "",
                std::string(conn->mode()) == "kernel" ? parser : "",
                r.status == sockframe::ReceiveStatus::end ? "end" : "an error");
    return n == sent.size() && r.status == sockframe::ReceiveStatus::end ? 0 : 1;
}
