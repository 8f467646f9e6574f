// The kernel path: a generated parser frames each socket inside the kernel and
// redirects whole messages, in batches, to a per-connection delivery socket.
// See docs/kernel.md for why this delivery mode and what it relies on.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <sockframe/connection.hpp>

#include "load/parser_program.hpp"

namespace sockframe {

// A receiver on a loaded parser (load_parser()). `warn` gets one line when the
// receiver starts framing new sockets in userspace because another program
// detached or replaced its parser.
std::unique_ptr<Receiver> make_kernel_receiver(std::shared_ptr<const Description> d,
                                               std::shared_ptr<const ParserProgram> program,
                                               std::function<void(const std::string&)> warn = {});

// Throws BpfLoadError if the description's messages can't fit the kernel path
// (strparser holds a whole message in the socket's receive buffer).
void check_kernel_path_fits(const Description& d, const LoadOptions& options);

}  // namespace sockframe
