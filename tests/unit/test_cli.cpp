// The sockframe command line, run as a program (SOCKFRAME_BIN): check, gen, frame, list.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <sockframe/description.hpp>
#include <sockframe/sender.hpp>

#include "support.hpp"

namespace fs = std::filesystem;
using sockframe::testing::read_file;
using sockframe::testing::TempDir;
using namespace std::string_literals;

namespace {

std::string env(const char* name) {
    const char* v = std::getenv(name);
    REQUIRE_MESSAGE((v && *v), name << " is not set");
    return v;
}

std::string bin() {
    static const std::string b = env("SOCKFRAME_BIN");
    REQUIRE_MESSAGE(fs::is_regular_file(b), "no sockframe binary at " << b);
    return b;
}
std::string parsers_dir() {
    return env("SOCKFRAME_SOURCE_DIR") + "/parsers";
}

const char* const kNine[] = {"dns",     "http2-frames", "json-lines",       "kafka",        "modbus-tcp",
                             "mongodb", "mysql",        "postgresql-typed", "smtp-commands"};

// Every description in parsers/ (the nine examples and any added since).
std::vector<fs::path> all_parsers() {
    std::vector<fs::path> v;
    for (const auto& e : fs::directory_iterator(parsers_dir()))
        if (e.path().extension() == ".toml") v.push_back(e.path());
    std::sort(v.begin(), v.end(), [](const fs::path& a, const fs::path& b) { return a.stem() < b.stem(); });
    return v;
}

std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? "'\\''"s : std::string(1, c);
    return q + "'";
}

struct Run {
    int rc;
    std::string out, err;
};

// Runs sockframe with `args` (already quoted), optional stdin file.
// `env` is prefixed to the command ("NAME=value ").
Run run(const TempDir& tmp, const std::string& args, const std::string& stdin_path = "/dev/null",
        const std::string& env = "") {
    const std::string out = (tmp.path / "stdout").string(), err = (tmp.path / "stderr").string();
    const std::string cmd =
        env + quote(bin()) + " " + args + " <" + quote(stdin_path) + " >" + quote(out) + " 2>" + quote(err);
    int status = std::system(cmd.c_str());
    REQUIRE_MESSAGE(WIFEXITED(status), "did not exit normally: " << cmd);
    return {WEXITSTATUS(status), read_file(out), read_file(err)};
}

std::vector<std::string> lines(const std::string& s) {
    std::vector<std::string> v;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
}

std::string pad(std::string s, size_t n) {
    if (s.size() < n) s.resize(n, ' ');
    return s;
}

std::string hex(const std::string& bytes) {
    static const char d[] = "0123456789abcdef";
    std::string h;
    for (unsigned char c : bytes) h += std::string{d[c >> 4], d[c & 15]};
    return h;
}

}  // namespace

TEST_CASE("check: every shipped parser is valid and explained") {
    TempDir tmp;
    const auto parsers = all_parsers();
    REQUIRE(parsers.size() >= 9);
    for (const auto& p : parsers) {
        CAPTURE(p);
        Run r = run(tmp, "check " + quote(p.string()));
        CHECK(r.rc == 0);
        CHECK(r.err == "");
        sockframe::Description d = sockframe::load_description_file(p.string());
        // explain() first, then what the send side enforces (docs/send.md).
        std::string expected = p.string() + ": OK\n" + sockframe::explain(d);
        CHECK(r.out.rfind(expected, 0) == 0);
        sockframe::SendSideSupport s = sockframe::send_side_support(d);
        std::string send_lines = r.out.substr(std::min(expected.size(), r.out.size()));
        CHECK(send_lines.rfind(s.kernel ? "Send side: the kernel lets only" : "Send side: framed in userspace only: ",
                               0) == 0);
        for (const std::string& n : s.not_enforced)
            CHECK(send_lines.find("Send side, not enforced: " + n + ".\n") != std::string::npos);
    }
    for (const char* name : kNine) CHECK(fs::is_regular_file(parsers_dir() + "/" + name + ".toml"));
    // One spelled out in full.
    Run r = run(tmp, "check " + quote(parsers_dir() + "/dns.toml"));
    CHECK(r.out ==
          parsers_dir() +
              "/dns.toml: OK\n"
              "dns-tcp: DNS over TCP (RFC 1035 \xc2\xa7"
              "4.2.2, RFC 7766 \xc2\xa7"
              "8)\n"
              "Each message starts with a length field: 2-byte unsigned big-endian integer at byte 0.\n"
              "Message size = 2 + value bytes.\n"
              "A size below 14 or above 65537 bytes is a framing error.\n"
              "On a framing error the connection stops there; every message before it is delivered.\n"
              "Kernel path: sk_skb stream parser on a sockhash; whole messages are redirected in batches "
              "to a delivery socket and split again in userspace.\n"
              "Routing key of every message (route.key, line 20):\n"
              "  1. (line 21) require that the u16 6 bytes from here is at least 1.\n"
              "  2. (line 22) skip 14 bytes.\n"
              "  3. (line 23) take a DNS name in wire form (labels with their length octets, through the root "
              "label; compression pointers are not followed); at most 255 bytes, ASCII case ignored (A-Z hashed "
              "as a-z).\n"
              "A message where a step cannot be carried out, or whose key is empty or too long, has no key.\n"
              "Keys are hashed with FNV-1a 64 over their bytes (bpf/sockframe_hash.h) for consistent hashing.\n"
              "Send side: the kernel lets only messages that follow this rule leave a socket.\n"
              "Send side, not enforced: [route]: routing rules apply to received messages only.\n");
}

TEST_CASE("check: a bad description exits 1 with file:line:column") {
    TempDir tmp;
    std::string bad = tmp.file("bad.toml", "name = \"x\"\nmax_message = 10\n\n[length]\nwidth = 5\n");
    Run r = run(tmp, "check " + quote(bad));
    CHECK(r.rc == 1);
    CHECK(r.out == "");
    CHECK(r.err == "sockframe: " + bad + ":5:9: length.width: 5 is not allowed; allowed: 1, 2, 3, 4 or 8\n");

    std::string syntax = tmp.file("syntax.toml", "name = \"x\"\nmax_message = \n");
    r = run(tmp, "check " + quote(syntax));
    CHECK(r.rc == 1);
    CHECK(r.err ==
          "sockframe: " + syntax + ":2:15: syntax: Error while parsing key-value pair: expected value, saw '\\n'\n");

    r = run(tmp, "check " + quote((tmp.path / "missing.toml").string()));
    CHECK(r.rc == 1);
    CHECK(r.err == "sockframe: " + (tmp.path / "missing.toml").string() + ":1:1: file: cannot be read\n");

    r = run(tmp, "check");
    CHECK(r.rc == 2);
    CHECK(r.err.rfind("sockframe check: missing DESCRIPTION\n\nusage: sockframe check DESCRIPTION\n", 0) == 0);
}

TEST_CASE("gen: deterministic, byte for byte") {
    TempDir tmp;
    std::string previous;
    for (const auto& p : all_parsers()) {
        CAPTURE(p);
        Run a = run(tmp, "gen " + quote(p.string()));
        Run b = run(tmp, "gen " + quote(p.string()));
        REQUIRE(a.rc == 0);
        REQUIRE(b.rc == 0);
        CHECK(a.out.size() > 500);
        CHECK(a.out == b.out);
        CHECK(a.out != previous);  // not one text for every description
        CHECK(a.out.find("Generated by sockframe from " + p.filename().string()) != std::string::npos);
        previous = a.out;
        // -o FILE writes the same bytes.
        std::string o = (tmp.path / "out.bpf.c").string();
        Run c = run(tmp, "gen " + quote(p.string()) + " -o " + quote(o));
        CHECK(c.rc == 0);
        CHECK(c.out == "");
        CHECK(read_file(o) == a.out);
    }
}

TEST_CASE("frame --format jsonl: exact lines") {
    TempDir tmp;
    const std::string dns = parsers_dir() + "/dns.toml";
    const std::string m1 = "\x00\x0c"s + "ABCDEFGHIJKL";                      // 14 bytes
    const std::string m2 = "\x00\x0e"s + "\x00\x01\x02\xff"s + "abcdefghij";  // 16 bytes
    const std::string l1 = R"({"offset":0,"len":14,"hex":"000c4142434445464748494a4b4c"})";
    const std::string l2 = R"({"offset":14,"len":16,"hex":"000e000102ff6162636465666768696a"})";
    REQUIRE(hex(m2) == "000e000102ff6162636465666768696a");

    SUBCASE("a good capture") {
        std::string cap = tmp.file("good.bin", m1 + m2);
        Run r = run(tmp, "frame " + quote(dns) + " " + quote(cap) + " --format jsonl");
        CHECK(r.rc == 0);
        CHECK(r.err == "");
        CHECK(r.out == l1 + "\n" + l2 + "\n" + R"({"summary":{"messages":2,"bytes":30,"ok":true}})" + "\n");
        // The same from stdin, both spellings.
        Run s = run(tmp, "frame " + quote(dns) + " - --format jsonl", cap);
        CHECK(s.rc == 0);
        CHECK(s.out == r.out);
        Run t = run(tmp, "frame --format jsonl " + quote(dns), cap);
        CHECK(t.out == r.out);
    }
    SUBCASE("an empty capture") {
        std::string cap = tmp.file("empty.bin", "");
        Run r = run(tmp, "frame " + quote(dns) + " " + quote(cap) + " --format jsonl");
        CHECK(r.rc == 0);
        CHECK(r.out == R"({"summary":{"messages":0,"bytes":0,"ok":true}})"
                       "\n");
    }
    SUBCASE("too short after a good message: exit 1 with the error line") {
        std::string cap = tmp.file("short.bin", m1 + "\x00\x01"s + "zzzz");
        Run r = run(tmp, "frame " + quote(dns) + " " + quote(cap) + " --format jsonl");
        CHECK(r.rc == 1);
        CHECK(
            r.out ==
            l1 + "\n" +
                R"({"error":"length field gives a 3-byte message, below the minimum 14 at stream offset 14","rule":"too_short","offset":14})"
                "\n"
                R"({"summary":{"messages":1,"bytes":14,"ok":false}})"
                "\n");
    }
    SUBCASE("too long") {
        std::string cap2 = tmp.file("long2.bin", "\x00\x00\x00\x08"s + "12345678" + "\x7f\xff\xff\xff"s);
        Run r = run(tmp, "frame " + quote(parsers_dir() + "/kafka.toml") + " " + quote(cap2) + " --format jsonl");
        CHECK(r.rc == 1);
        CHECK(
            r.out ==
            R"({"offset":0,"len":12,"hex":"000000083132333435363738"})"
            "\n"
            R"({"error":"length field gives a 2147483651-byte message, above max_message 104857604 at stream offset 12","rule":"too_long","offset":12})"
            "\n"
            R"({"summary":{"messages":1,"bytes":12,"ok":false}})"
            "\n");
    }
    SUBCASE("truncated at the end of the capture") {
        std::string cap = tmp.file("trunc.bin", m1 + m2.substr(0, 5));
        Run r = run(tmp, "frame " + quote(dns) + " " + quote(cap) + " --format jsonl");
        CHECK(r.rc == 1);
        CHECK(r.out ==
              l1 + "\n" +
                  R"({"error":"truncated message (5 of 16 bytes) at stream offset 14","rule":"truncated","offset":14})"
                  "\n"
                  R"({"summary":{"messages":1,"bytes":14,"ok":false}})"
                  "\n");
    }
    SUBCASE("no delimiter: the error text is escaped as JSON") {
        std::string cap = tmp.file("smtp.bin", "HELO x\r\n" + std::string(1000, 'x') + "\r\n");
        Run r =
            run(tmp, "frame " + quote(parsers_dir() + "/smtp-commands.toml") + " " + quote(cap) + " --format jsonl");
        CHECK(r.rc == 1);
        CHECK(
            r.out ==
            R"({"offset":0,"len":8,"hex":"48454c4f20780d0a"})"
            "\n"
            R"({"error":"no delimiter \"\\r\\n\" within max_message 1000 bytes at stream offset 8","rule":"no_delimiter","offset":8})"
            "\n"
            R"({"summary":{"messages":1,"bytes":8,"ok":false}})"
            "\n");
    }
}

TEST_CASE("frame: text format, and a capture larger than one read") {
    TempDir tmp;
    const std::string dns = parsers_dir() + "/dns.toml";
    std::string cap = tmp.file("good.bin", "\x00\x0c"s + "ABCDEFGHIJKL" + "\x00\x0e"s + std::string(14, '"'));
    Run r = run(tmp, "frame " + quote(dns) + " " + quote(cap));
    CHECK(r.rc == 0);
    CHECK(r.out ==
          "message offset=0 len=14 \"\\x00\\x0cABCDEFGHIJKL\"\n"
          "message offset=14 len=16 \"\\x00\\x0e\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\"\n"
          "2 messages, 30 bytes framed\n");
    std::string bad = tmp.file("bad.bin", "\x00\x0c"s + "ABCDEFGHIJKL" + "\x00\x02"s);
    r = run(tmp, "frame " + quote(dns) + " " + quote(bad));
    CHECK(r.rc == 1);
    CHECK(r.out ==
          "message offset=0 len=14 \"\\x00\\x0cABCDEFGHIJKL\"\n"
          "error too_short: length field gives a 4-byte message, below the minimum 14 at stream offset 14\n"
          "1 messages, 14 bytes framed, stopped by a framing error\n");

    // 3000 lines of 100 bytes: 300000 bytes, several 64 KiB reads, lines across read boundaries.
    std::string big;
    for (int i = 0; i < 3000; i++) big += std::string(99, static_cast<char>('a' + i % 26)) + "\n";
    std::string bigcap = tmp.file("big.jsonl", big);
    r = run(tmp, "frame " + quote(parsers_dir() + "/json-lines.toml") + " " + quote(bigcap) + " --format jsonl");
    CHECK(r.rc == 0);
    auto ls = lines(r.out);
    REQUIRE(ls.size() == 3001);
    for (int i = 0; i < 3000; i += 499) {
        CAPTURE(i);
        CHECK(ls[i] == "{\"offset\":" + std::to_string(i * 100) + ",\"len\":100,\"hex\":\"" +
                           hex(std::string(99, static_cast<char>('a' + i % 26)) + "\n") + "\"}");
    }
    CHECK(ls[2999].rfind("{\"offset\":299900,\"len\":100,", 0) == 0);
    CHECK(ls[3000] == R"({"summary":{"messages":3000,"bytes":300000,"ok":true}})");

    r = run(tmp, "frame " + quote(dns) + " " + quote(cap) + " --format yaml");
    CHECK(r.rc == 2);
    CHECK(r.err.rfind("sockframe frame: --format must be text or jsonl, not \"yaml\"\n", 0) == 0);
}

TEST_CASE("list: every parser, one line each") {
    TempDir tmp;
    Run r = run(tmp, "list");
    CHECK(r.rc == 0);
    CHECK(r.err == "");
    auto ls = lines(r.out);
    const auto parsers = all_parsers();
    REQUIRE(ls.size() == parsers.size());
    for (size_t i = 0; i < parsers.size(); i++) {
        CAPTURE(parsers[i]);
        const auto d = sockframe::load_description_file(parsers[i].string());
        CHECK(ls[i].rfind(parsers[i].stem().string() + " ", 0) == 0);  // sorted by name, as DESCRIPTION takes it
        CHECK(ls[i].find(" " + d.name + " ") != std::string::npos);
        CHECK(ls[i].find(" " + sockframe::summarize(d) + " ") != std::string::npos);
        CHECK(ls[i].find("INVALID") == std::string::npos);
        if (!d.summary.empty()) CHECK(ls[i].substr(ls[i].size() - d.summary.size()) == d.summary);
    }
    // Every kind of rule, in its own words (git pkt-line's length is 4 ASCII hex digits, not a binary field).
    const char* const want[] = {
        "dns                    dns-tcp                    u16be@0                        DNS over TCP",
        "git-pkt-line           git-pkt-line               4 hex digits@0                 Git pkt-line packets",
        "http2                  http2                      24 B preface, then u24be@0     HTTP/2 client stream: "
        "connection preface, then frames",
        "json-lines             json-lines                 delimiter \"\\n\"                 JSON Lines "
        "(newline-delimited JSON)",
        "ldap                   ldap                       BER length@1                   LDAPv3 messages (BER, "
        "definite length)",
        "mongodb                mongodb                    u32le@0                        MongoDB wire protocol "
        "messages",
        "mqtt                   mqtt                       varint@1 (<= 4 B)              MQTT control packets (3.1.1 "
        "and 5.0)",
        "netbios-session        netbios-session            u24be@1 &0x1ffff               NetBIOS session service "
        "packets (RFC 1002)",
        "netstring              netstring                  decimal@0 to \":\"               netstrings",
        "postgresql             postgresql                 first u32be@0, then u32be@1    PostgreSQL v3 frontend: "
        "startup message, then typed messages",
        "smtp-commands          smtp-commands              delimiter \"\\r\\n\"               SMTP command lines "
        "(CRLF)",
    };
    for (const char* w : want) {
        CAPTURE(w);
        CHECK(std::find(ls.begin(), ls.end(), std::string(w)) != ls.end());
    }
    // --names: what DESCRIPTION accepts, one per line (the bash completion reads it).
    Run n = run(tmp, "list --names");
    CHECK(n.rc == 0);
    REQUIRE(lines(n.out).size() == parsers.size());
    for (size_t i = 0; i < parsers.size(); i++) CHECK(lines(n.out)[i] == parsers[i].stem().string());

    // Another directory, with a broken description: listed as INVALID, exit 1.
    fs::create_directory(tmp.path / "p");
    tmp.file("p/a.toml", "name = \"aa\"\nmax_message = 9\n[delimiter]\nhex = \"00\"\n");
    tmp.file("p/b.toml", "name = \"bb\"\nmax_message = 10\n[length]\nwidth = 6\n");
    tmp.file("p/notes.txt", "not a description");
    Run l = run(tmp, "list " + quote((tmp.path / "p").string()));
    CHECK(l.rc == 1);
    CHECK(l.out == pad("a", 22) + " " + pad("aa", 26) + " " + pad("delimiter \"\\x00\"", 30) + " \n" + pad("b", 22) +
                       " INVALID: " + (tmp.path / "p" / "b.toml").string() +
                       ":4:9: length.width: 6 is not allowed; allowed: 1, 2, 3, 4 or 8\n");
}

TEST_CASE("unknown command and usage") {
    TempDir tmp;
    Run r = run(tmp, "frobnicate");
    CHECK(r.rc == 2);
    CHECK(r.err.rfind("sockframe: unknown command frobnicate\n\nusage: sockframe COMMAND", 0) == 0);
    Run h = run(tmp, "--help");
    CHECK(h.rc == 0);
    CHECK(h.out.rfind("usage: sockframe COMMAND [options]\n", 0) == 0);
}

TEST_CASE("a bare name is a shipped description, for every command that takes one") {
    TempDir tmp;
    // From the build directory the source tree's parsers/ are the shipped ones.
    Run c = run(tmp, "check dns");
    CHECK(c.rc == 0);
    CHECK(c.out.rfind(parsers_dir() + "/dns.toml: OK\n", 0) == 0);
    Run g = run(tmp, "gen git-pkt-line");
    CHECK(g.rc == 0);
    CHECK(g.out.find("git-pkt-line") != std::string::npos);
    const std::string cap = tmp.file("cap.bin", std::string("\x00\x0chi0123456789", 14));
    Run f = run(tmp, "frame dns " + quote(cap) + " --format jsonl");
    CHECK(f.rc == 0);
    CHECK(f.out.rfind(R"({"offset":0,"len":14,"hex":"000c686930313233343536373839"})", 0) == 0);

    // An unknown name: the error says every place it looked.
    Run u = run(tmp, "check dnss");
    CHECK(u.rc == 1);
    CHECK(u.err ==
          "sockframe: no description named \"dnss\": looked for " + parsers_dir() +
              "/dnss.toml (give a path to a .toml file, set SOCKFRAME_PARSERS_DIR, or see `sockframe list`)\n");

    // SOCKFRAME_PARSERS_DIR: a ':'-separated list, searched in order.
    fs::create_directory(tmp.path / "mine");
    tmp.file("mine/dns.toml", "name = \"my-dns\"\nmax_message = 100\n[length]\nwidth = 2\nheader = 2\n");
    const std::string env =
        "SOCKFRAME_PARSERS_DIR=" +
        quote((tmp.path / "none").string() + ":" + (tmp.path / "mine").string() + ":" + parsers_dir()) + " ";
    Run m = run(tmp, "check dns", "/dev/null", env);
    CHECK(m.rc == 0);
    CHECK(m.out.find("my-dns") != std::string::npos);
    Run k = run(tmp, "check kafka", "/dev/null", env);
    CHECK(k.rc == 0);
    CHECK(k.out.rfind(parsers_dir() + "/kafka.toml: OK\n", 0) == 0);
    Run l = run(tmp, "list", "/dev/null", env);
    CHECK(l.out.find("my-dns") != std::string::npos);
    CHECK(lines(l.out).size() == all_parsers().size());  // dns once: the first directory that has it wins
}

TEST_CASE("--man and --bash-completion come from the command table") {
    TempDir tmp;
    Run top = run(tmp, "--help");
    Run man = run(tmp, "--man");
    Run comp = run(tmp, "--bash-completion");
    CHECK(man.rc == 0);
    CHECK(comp.rc == 0);
    CHECK(man.out.rfind(".TH SOCKFRAME 1 ", 0) == 0);
    // Every command of the top-level usage has a section in the manual and a case in the completion,
    // and every option its `COMMAND --help` lists appears in both.
    size_t commands = 0;
    for (const std::string& line : lines(top.out)) {
        if (line.rfind("  ", 0) != 0 || line.size() < 3 || line[2] == ' ') continue;
        std::string name = line.substr(2, line.find(' ', 2) - 2);
        CAPTURE(name);
        commands++;
        CHECK(man.out.find(".SS \"" + name) != std::string::npos);
        CHECK(comp.out.find("    " + name + ")\n") != std::string::npos);
        Run help = run(tmp, name + " --help");
        REQUIRE(help.rc == 0);
        for (const std::string& h : lines(help.out)) {
            if (h.rfind("  -", 0) != 0) continue;
            std::string opt = h.substr(2, h.find(' ', 2) - 2);
            CAPTURE(opt);
            std::string roff_opt;
            for (char ch : opt) roff_opt += ch == '-' ? "\\-" : std::string(1, ch);
            CHECK(man.out.find(".B " + roff_opt) + man.out.find(".BI \"" + roff_opt) != 2 * std::string::npos);
            CHECK(comp.out.find(" " + opt) != std::string::npos);
        }
    }
    CHECK(commands >= 6);
    // The completion script is valid bash.
    const std::string script = tmp.file("completion.bash", comp.out);
    CHECK(std::system(("bash -n " + quote(script)).c_str()) == 0);
}

TEST_CASE("check: a key that cannot be is refused with the reason") {
    TempDir tmp;
    std::string kafka = tmp.file("kafka-topic.toml",
                                 "name = \"kafka\"\nmax_message = 1000\n[length]\nwidth = 4\n[route]\n"
                                 "key = [{ skip = 14 }, { take = \"topic\" }]\n");
    Run r = run(tmp, "check " + quote(kafka));
    CHECK(r.rc == 1);
    CHECK(r.out == "");
    CHECK(r.err ==
          "sockframe: " + kafka +
              ":6:32: route.key[1].take: \"topic\" is not a take kind: an MQTT PUBLISH topic is take_prefixed "
              "= \"u16\" after the fixed header; a Kafka topic cannot be a key: it follows the client id in a "
              "request body whose layout depends on api_key and api_version (compact strings and tagged fields "
              "in flexible versions), so no one step sequence finds it in every request\n");
}
