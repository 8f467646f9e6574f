#pragma once

#include <memory>

#include <sockframe/sender.hpp>

#include "send/send_program.hpp"

namespace sockframe {

class KernelSender final : public Sender {
public:
    KernelSender(std::shared_ptr<const Description> d, std::shared_ptr<const SendProgram> program)
        : Sender(std::move(d)), program_(std::move(program)) {}
    std::unique_ptr<SendSocket> attach(int fd) override;
    const char* mode() const override { return "kernel"; }
    const SendProgram& program() const { return *program_; }

private:
    std::shared_ptr<const SendProgram> program_;
};

}  // namespace sockframe
