// Steering rules without the kernel (no privilege needed): parsing HOST[/PREFIX]:LOW-HIGH,
// printing, overlap between rules, and the listener lookup in /proc/net/tcp.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sockframe/steering.hpp>

using namespace sockframe;

TEST_CASE("rules parse, print and overlap") {
    CHECK(parse_steering_rule("127.0.0.1:7000-7999").text() == "127.0.0.1:7000-7999");
    CHECK(parse_steering_rule("[::1]:80").text() == "[::1]:80");
    CHECK(parse_steering_rule("127.9.9.9/8:9000").text() == "127.0.0.0/8:9000");
    CHECK(parse_steering_rule("[fd00::1/16]:1-2").text() == "[fd00::/16]:1-2");
    CHECK_THROWS_AS(parse_steering_rule("127.0.0.1"), std::invalid_argument);
    CHECK_THROWS_AS(parse_steering_rule("::1:80"), std::invalid_argument);
    CHECK_THROWS_AS(parse_steering_rule("127.0.0.1:9-8"), std::invalid_argument);
    CHECK_THROWS_AS(parse_steering_rule("127.0.0.1:0"), std::invalid_argument);
    CHECK_THROWS_AS(parse_steering_rule("localhost:80"), std::invalid_argument);
    auto a = parse_steering_rule("127.0.0.0/8:7000-7999");
    CHECK(a.overlaps(parse_steering_rule("127.0.0.2:7999")));
    CHECK_FALSE(a.overlaps(parse_steering_rule("127.0.0.2:8000")));
    CHECK_FALSE(a.overlaps(parse_steering_rule("[::1]:7000")));
    CHECK_FALSE(a.overlaps(parse_steering_rule("10.0.0.1:7000")));
}

TEST_CASE("a listener in a rule's range is found, with this process named") {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(listen(fd, 4) == 0);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    uint16_t port = ntohs(a.sin_port);
    auto owners = listeners_in(parse_steering_rule("127.0.0.0/8:" + std::to_string(port)));
    REQUIRE(owners.size() == 1);
    CHECK(owners[0].where.port_low == port);
    CHECK(owners[0].who.find("pid " + std::to_string(getpid())) == 0);
    CHECK(listeners_in(parse_steering_rule("127.0.0.2:" + std::to_string(port))).empty());
    CHECK(listeners_in(parse_steering_rule("[::1]:" + std::to_string(port))).empty());
    close(fd);
    CHECK(listeners_in(parse_steering_rule("127.0.0.1:" + std::to_string(port))).empty());
}
