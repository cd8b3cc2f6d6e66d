// Clang thread-safety annotations (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html)
// and an annotated mutex, so that `-Wthread-safety` checks which lock guards
// which member. Under other compilers the macros expand to nothing.
//
// std::mutex carries no annotations in libstdc++, so annotated code uses
// sextant::Mutex and sextant::MutexLock; a condition variable waits on a
// Mutex through std::condition_variable_any (Mutex is BasicLockable).
#pragma once

#include <mutex>

#if defined(__clang__)
#define SEXTANT_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define SEXTANT_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) SEXTANT_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY SEXTANT_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) SEXTANT_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) SEXTANT_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) SEXTANT_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) SEXTANT_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define REQUIRES(...) SEXTANT_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) SEXTANT_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) SEXTANT_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) SEXTANT_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) SEXTANT_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define RETURN_CAPABILITY(x) SEXTANT_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS SEXTANT_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace sextant {

// A std::mutex the analysis knows about.
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mu_.try_lock(); }

 private:
  std::mutex mu_;
};

// Holds a Mutex for its scope; Unlock/Lock release and retake it inside the
// scope (e.g. around slow work that needs no lock).
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() RELEASE() {
    if (held_) mu_.unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() RELEASE() {
    mu_.unlock();
    held_ = false;
  }
  void Lock() ACQUIRE() {
    mu_.lock();
    held_ = true;
  }

 private:
  Mutex& mu_;
  bool held_ = true;
};

}  // namespace sextant
