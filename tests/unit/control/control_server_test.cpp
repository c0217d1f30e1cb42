#include "control/control_server.h"

#include <doctest/doctest.h>

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "proto/control_protocol.h"

namespace tandem {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed with its contents.
struct TempDir {
    fs::path path;
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "tandem-control-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

struct stat statOf(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st;
}

// A group the socket can be given to that differs from the process's own
// group, so the test sees that start() changed it: as root any system group
// will do; otherwise only the process's own group is allowed.
struct Candidate {
    std::string name;
    gid_t gid = 0;
};

Candidate otherGroup() {
    if (::geteuid() == 0) {
        for (const char* name : {"nogroup", "daemon", "bin", "sys"}) {
            if (const group* g = ::getgrnam(name); g != nullptr && g->gr_gid != ::getegid()) {
                return {name, g->gr_gid};
            }
        }
    }
    const group* own = ::getgrgid(::getegid());
    REQUIRE(own != nullptr);
    return {own->gr_name, own->gr_gid};
}

TEST_CASE("the control socket belongs to the access group, mode 0660, when the group exists") {
    TempDir tmp;
    const Candidate grp = otherGroup();
    const fs::path dir = tmp.path / "run";
    const fs::path sock = dir / "tandemd.sock";

    ControlServer server;
    server.setAccessGroup(grp.name);
    std::string error;
    REQUIRE_MESSAGE(server.start(sock.string(), &error), error);

    const struct stat st = statOf(sock);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 07777) == 0660);
    CHECK(st.st_gid == grp.gid);
    // The directory start() created is opened to the same group, no further.
    const struct stat dst = statOf(dir);
    CHECK((dst.st_mode & 07777) == 0750);
    CHECK(dst.st_gid == grp.gid);
    server.stop();
    CHECK_FALSE(fs::exists(sock));
}

TEST_CASE("without the access group the control socket is its owner's only (mode 0600)") {
    TempDir tmp;
    const fs::path sock = tmp.path / "tandemd.sock";
    for (const std::string group : {"tandem-group-that-does-not-exist", ""}) {
        CAPTURE(group);
        ControlServer server;
        server.setAccessGroup(group);
        std::string error;
        REQUIRE_MESSAGE(server.start(sock.string(), &error), error);
        const struct stat st = statOf(sock);
        CHECK((st.st_mode & 07777) == 0600);
        CHECK(st.st_gid == ::getegid());
        server.stop();
    }
}

TEST_CASE("the socket is its owner's alone whatever the process umask, which is restored") {
    TempDir tmp;
    const fs::path sock = tmp.path / "tandemd.sock";
    const mode_t before = ::umask(0);
    ControlServer server;
    server.setAccessGroup("");
    std::string error;
    REQUIRE_MESSAGE(server.start(sock.string(), &error), error);
    const mode_t during = ::umask(before);
    CHECK(during == 0);
    CHECK((statOf(sock).st_mode & 07777) == 0600);
    server.stop();
}

TEST_CASE("a directory that already existed keeps its owner's mode and group") {
    TempDir tmp;
    const Candidate grp = otherGroup();
    ::chmod(tmp.path.c_str(), 0711);
    const struct stat before = statOf(tmp.path);
    ControlServer server;
    server.setAccessGroup(grp.name);
    std::string error;
    REQUIRE_MESSAGE(server.start((tmp.path / "tandemd.sock").string(), &error), error);
    const struct stat after = statOf(tmp.path);
    CHECK((after.st_mode & 07777) == 0711);
    CHECK(after.st_gid == before.st_gid);
    CHECK(statOf(tmp.path / "tandemd.sock").st_gid == grp.gid);
}

// A request whose args hold one value nested `levels` deep in arrays
// (the request object and args make two levels more).
std::string nestedRequest(unsigned levels) {
    return R"({"v": 1, "command": "show version", "args": {"x": )" + std::string(levels, '[') +
           std::string(levels, ']') + "}}";
}

TEST_CASE("a request nested deeper than the limit is refused with a clear error, before parsing") {
    ControlServer server;
    server.on("show version", [](const nlohmann::json&) { return nlohmann::json{{"ok", 1}}; });
    const auto reply = [&](const std::string& request) {
        return nlohmann::json::parse(server.handle(request));
    };
    CHECK(reply(nestedRequest(control::kMaxRequestDepth - 2))["ok"] == true);
    const nlohmann::json deep = reply(nestedRequest(control::kMaxRequestDepth - 1));
    CHECK(deep["ok"] == false);
    CHECK(deep["error"] == "request nests arrays or objects deeper than 32 levels");
    // As deep as the size limit allows, objects or arrays: refused, no crash.
    const unsigned most = control::kMaxRequestBytes / 2 - 64;
    CHECK(reply(nestedRequest(most))["ok"] == false);
    std::string objects;
    for (unsigned i = 0; i < control::kMaxRequestBytes / 8; ++i) objects += R"({"a":)";
    CHECK(reply(objects)["ok"] == false);
    // Brackets inside strings are text, not nesting.
    CHECK(reply(R"({"v": 1, "command": "show version", "args": {"x": ")" + std::string(100, '[') +
                R"(\"[[["}})")["ok"] == true);
}

}  // namespace
}  // namespace tandem
