#include "manual.hpp"

#include "build_config.hpp"

namespace sockframe::cli {
namespace {

// Text for roff: backslashes escaped, '-' as a minus (option names), a leading '.' or '\'' neutralised.
std::string roff(const std::string& s, bool at_line_start = true) {
    std::string out;
    for (size_t i = 0; i < s.size(); i++) {
        char c = s[i];
        if ((c == '.' || c == '\'') && at_line_start) out += "\\&";
        if (c == '\\')
            out += "\\e";
        else if (c == '-')
            out += "\\-";
        else if (c == '\n')
            out += ' ';
        else
            out += c;
        at_line_start = false;
    }
    return out;
}

std::string joined(std::span<const Command* const> commands) {
    std::string out;
    for (const Command* c : commands) out += (out.empty() ? "" : " ") + c->name;
    return out;
}

// Shell words a value can be completed from: "text|jsonl" -> "text jsonl".
std::string choices(const std::string& value) {
    if (value.find('|') == std::string::npos) return {};
    std::string out = value;
    for (char& c : out)
        if (c == '|') c = ' ';
    return out;
}

bool names_files(const std::string& value) {
    return value.find("FILE") != std::string::npos;
}
bool names_directory(const std::string& value) {
    return value == "DIR";
}

}  // namespace

std::string manual_page(std::span<const Command* const> commands) {
    std::string o;
    o += ".TH SOCKFRAME 1 \"\" \"sockframe " SOCKFRAME_VERSION "\" \"User Commands\"\n";
    o += ".SH NAME\nsockframe \\- frame TCP byte streams into whole L7 messages, in the kernel or in userspace\n";
    o += ".SH SYNOPSIS\n";
    for (const Command* c : commands)
        o += ".B sockframe " + roff(c->name) + "\n" + (c->operands.empty() ? "" : ".I " + roff(c->operands) + "\n") +
             ".br\n";
    o += ".SH DESCRIPTION\n"
         "A description (TOML) says how a protocol delimits its messages on a TCP byte stream. "
         "From it sockframe generates a readable sk_skb stream parser in C, compiles it with clang, "
         "loads it with libbpf onto a sockhash and hands a server exactly one whole message per receive; "
         "the same description runs in a userspace framer, used where BPF is not permitted.\n"
         ".PP\n"
         "Every command taking a \\fIDESCRIPTION\\fR accepts a path to a .toml file or the name of a shipped "
         "description (\\fBsockframe list\\fR shows them), looked up as \\fINAME\\fR.toml in the directories of "
         "\\fBSOCKFRAME_PARSERS_DIR\\fR or, by default, \\fI" +
         roff(SOCKFRAME_INSTALLED_PARSERS_DIR, false) +
         "\\fR.\n.PP\n"
         "\\fBsockframe\\fR \\fICOMMAND\\fR \\fB\\-\\-help\\fR prints the options of one command, from the "
         "same table as this page.\n";
    o += ".SH COMMANDS\n";
    for (const Command* c : commands) {
        o += ".SS \"" + roff(c->name) + (c->operands.empty() ? "" : " " + roff(c->operands)) + "\"\n";
        o += roff(c->summary) + ".\n";
        for (const Option& opt : c->options) {
            o += opt.value.empty() ? ".TP\n.B " + roff(opt.name) + "\n"
                                   : ".TP\n.BI \"" + roff(opt.name) + " \" \"" + roff(opt.value) + "\"\n";
            o += roff(opt.help) + (opt.repeatable ? " (may be repeated)" : "") + "\n";
        }
    }
    o += ".SH RUN-TIME REQUIREMENTS\n"
         "The kernel path needs CAP_BPF and CAP_NET_ADMIN (or root), a kernel with BTF "
         "(/sys/kernel/btf/vmlinux) and sockmap stream parsers. "
         "For a shipped description the parser compiled at build time is loaded from \\fI" +
         roff(SOCKFRAME_INSTALLED_BPF_OBJECTS_DIR, false) +
         "\\fR; any other description is compiled with clang (and libbpf's headers) once, then cached. "
         "Without a compiler on the host, build the object elsewhere with \\fBsockframe build\\fR and load "
         "it with \\fBsockframe serve \\-\\-object\\fR. "
         "Without privileges or BPF, sockframe says why in one line and uses the userspace framer.\n";
    o +=
        ".SH ENVIRONMENT\n"
        ".TP\n.B SOCKFRAME_PARSERS_DIR\nDirectories (':'-separated) of descriptions that bare names are looked up in.\n"
        ".TP\n.B SOCKFRAME_BPF_OBJECTS_DIR\nDirectories (':'-separated) of precompiled parser objects, each with an "
        "index of content hashes.\n"
        ".TP\n.B SOCKFRAME_CACHE_DIR\nWhere compiled parsers are cached (default $XDG_CACHE_HOME/sockframe or "
        "~/.cache/sockframe).\n"
        ".TP\n.B SOCKFRAME_CLANG\nThe clang to compile parsers with (default: clang on PATH).\n";
    o += ".SH FILES\n.TP\n.I " + roff(SOCKFRAME_INSTALLED_PARSERS_DIR) + "\nThe shipped descriptions.\n.TP\n.I " +
         roff(SOCKFRAME_INSTALLED_BPF_OBJECTS_DIR) + "\nTheir parsers, compiled at build time, and their index.\n";
    o += ".SH EXIT STATUS\n0 on success, 1 on an error (a description, a file, a load), 2 on a usage error.\n";
    o += ".SH SEE ALSO\n.BR clang (1),\n.BR bpftool (8)\n";
    return o;
}

std::string bash_completion(std::span<const Command* const> commands) {
    std::string o =
        "# bash completion for sockframe, generated by `sockframe --bash-completion` from its command table.\n"
        "_sockframe_descriptions() {\n"
        "    COMPREPLY+=($(compgen -W \"$(sockframe list --names 2>/dev/null)\" -- \"$cur\"))\n"
        "    _filedir toml\n"
        "}\n"
        "_sockframe() {\n"
        "    local cur prev words cword\n"
        "    _init_completion || return\n"
        "    if [[ $cword -eq 1 ]]; then\n"
        "        COMPREPLY=($(compgen -W \"" +
        joined(commands) +
        " --help --version\" -- \"$cur\"))\n"
        "        return\n"
        "    fi\n"
        "    local options valued operand\n"
        "    case ${words[1]} in\n";
    for (const Command* c : commands) {
        std::string options = "--help", valued;
        o += "    " + c->name + ")\n        case $prev in\n";
        for (const Option& opt : c->options) {
            options += " " + opt.name;
            if (opt.value.empty()) continue;
            valued += (valued.empty() ? "" : " ") + opt.name;
            std::string action = !choices(opt.value).empty()
                                     ? "COMPREPLY=($(compgen -W \"" + choices(opt.value) + "\" -- \"$cur\"))"
                                 : names_directory(opt.value) ? "_filedir -d"
                                 : names_files(opt.value)     ? "_filedir"
                                                              : "COMPREPLY=()";
            o += "        " + opt.name + ") " + action + "; return ;;\n";
        }
        std::string first = c->operands.substr(0, c->operands.find(' '));
        o += "        esac\n        options=\"" + options + "\" valued=\"" + valued + "\" operand=\"" + first +
             "\" ;;\n";
    }
    o += "    *) return ;;\n"
         "    esac\n"
         "    if [[ $cur == -* ]]; then\n"
         "        COMPREPLY=($(compgen -W \"$options\" -- \"$cur\"))\n"
         "        return\n"
         "    fi\n"
         "    # Which operand is this? Count the words before it that are neither options nor their values.\n"
         "    local i n=0\n"
         "    for ((i = 2; i < cword; i++)); do\n"
         "        if [[ ${words[i]} == -* ]]; then\n"
         "            [[ \" $valued \" == *\" ${words[i]} \"* ]] && ((i++))\n"
         "        else\n"
         "            ((n++))\n"
         "        fi\n"
         "    done\n"
         "    if [[ $n -eq 0 && $operand == DESCRIPTION ]]; then\n"
         "        _sockframe_descriptions\n"
         "    elif [[ $n -eq 0 && $operand == *DIR* ]]; then\n"
         "        _filedir -d\n"
         "    else\n"
         "        _filedir\n"
         "    fi\n"
         "}\n"
         "complete -F _sockframe sockframe\n";
    return o;
}

}  // namespace sockframe::cli
