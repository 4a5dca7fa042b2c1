// What every file of the C ABI shares (c_api.cpp, c_api_sdk.cpp): guarded() turns any exception into
// a status code and this thread's vgrt_last_error(), so nothing unwinds into the host; handles are
// registry ids, not pointers, so a destroyed, foreign or repeated handle is simply not found
// (VGRT_ERROR_INVALID_HANDLE) instead of touching freed memory, and a call in flight holds its
// object alive while another thread destroys the handle; check_struct() is the ABI stamp check of
// vidgen_rt.h's "ABI rule".
#pragma once

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>

#include "errors.hpp"
#include "vidgen_rt.h"

namespace vgrt {
class Model;
class Stream;
struct Snapshot;
}  // namespace vgrt

namespace vgrt::capi {

// This thread's vgrt_last_error() text.
std::string& last_error();

template <typename F>
int guarded(F&& body) noexcept {
    try {
        body();
        return VGRT_OK;
    } catch (const Error& error) {
        last_error() = error.what();
        return error.status();
    } catch (const std::bad_alloc&) {
        last_error() = "out of memory";
        return VGRT_ERROR_OUT_OF_MEMORY;
    } catch (const std::exception& error) {
        last_error() = std::string("internal error: ") + error.what();
        return VGRT_ERROR_INTERNAL;
    } catch (...) {
        last_error() = "internal error: unknown exception";
        return VGRT_ERROR_INTERNAL;
    }
}

// The next handle value; shared by every registry so a handle of one kind never names another.
uintptr_t next_handle();

// Live objects by handle value. Leaked on purpose: hosts may call in from threads during exit.
template <typename T>
class Registry {
public:
    explicit Registry(const char* kind) : kind_(kind) {}

    uintptr_t add(std::shared_ptr<T> object) {
        uintptr_t id = next_handle();
        std::lock_guard<std::mutex> lock(mutex_);
        objects_.emplace(id, std::move(object));
        return id;
    }

    std::shared_ptr<T> get(const void* handle) const {
        if (!handle) fail(VGRT_ERROR_INVALID_HANDLE, std::string(kind_) + " handle is NULL");
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = objects_.find(reinterpret_cast<uintptr_t>(handle));
        if (it == objects_.end())
            fail(VGRT_ERROR_INVALID_HANDLE, std::string(kind_) + " handle is not live (destroyed, or never created by vgrt_)");
        return it->second;
    }

    std::shared_ptr<T> remove(const void* handle) {
        std::shared_ptr<T> object = get(handle);
        std::lock_guard<std::mutex> lock(mutex_);
        objects_.erase(reinterpret_cast<uintptr_t>(handle));
        return object;
    }

private:
    const char* kind_;
    mutable std::mutex mutex_;
    std::unordered_map<uintptr_t, std::shared_ptr<T>> objects_;
};

Registry<Model>& models();
Registry<Stream>& streams();
Registry<Snapshot>& snapshots();

// Refuses a stamp (abi_version, struct_size) that is not this library's for struct `name`.
void check_stamp(const char* name, uint32_t abi_version, uint32_t struct_size, size_t expected_size);

template <typename T>
void check_struct(const T* value, const char* name) {
    if (!value) invalid(std::string(name) + " is NULL");
    check_stamp(name, value->abi_version, value->struct_size, sizeof(T));
}

// Model options as the library applies them: its defaults for NULL, else the caller's (stamp checked).
vgrt_model_options resolve_model_options(const vgrt_model_options* options);

}  // namespace vgrt::capi
