// sockframe: frame TCP byte streams into whole messages, in the kernel or in userspace.
// Pipeline: description (TOML) -> generated BPF C -> loaded parser -> connections.
#pragma once

#include <sockframe/bpf_codegen.hpp>
#include <sockframe/bpf_compiler.hpp>
#include <sockframe/connection.hpp>
#include <sockframe/description.hpp>
#include <sockframe/framing_error.hpp>
#include <sockframe/receiver.hpp>
#include <sockframe/route.hpp>
#include <sockframe/userspace_framer.hpp>
#include <sockframe/load_options.hpp>
