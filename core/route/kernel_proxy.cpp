// The kernel path of the proxy (bpf/sockframe_proxy.bpf.h): not built yet.
#include <stdexcept>

#include "route/engine.hpp"

namespace sockframe {

std::unique_ptr<ProxyEngine> make_kernel_engine(const EngineContext&) {
    throw std::runtime_error("the kernel proxy path is not built yet");
}

}  // namespace sockframe
