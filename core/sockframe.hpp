// sockframe: frame TCP byte streams into whole messages, in the kernel or in userspace.
// Pipeline: description (TOML) -> generated BPF C -> loaded parser -> connections.
#pragma once

#include "bpf_codegen.hpp"
#include "bpf_compiler.hpp"
#include "connection.hpp"
#include "description.hpp"
#include "framing_error.hpp"
#include "receiver.hpp"
#include "userspace_framer.hpp"
