"""Runs a program under an OCI seccomp profile (the JSON a pod's seccompProfile Localhost names,
which the kubelet hands to the container runtime), installed with libseccomp the way runc
installs it: the default action, then one rule per listed system call. The filter survives exec.

    python3 seccomp_profile.py PROFILE.json PROGRAM [ARG...]

Only what the chart's profile uses is supported: SCMP_ACT_ALLOW and SCMP_ACT_ERRNO (errnoRet)
actions on system-call names, without argument conditions."""
import ctypes
import errno
import json
import os
import sys

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_ERRNO = 0x00050000  # | errno


def action(name, errno_ret=errno.EPERM):
    if name == "SCMP_ACT_ALLOW":
        return SCMP_ACT_ALLOW
    if name == "SCMP_ACT_ERRNO":
        return SCMP_ACT_ERRNO | errno_ret
    raise SystemExit(f"seccomp_profile: action {name} is not supported")


def install(profile):
    lib = ctypes.CDLL("libseccomp.so.2")
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(action(profile["defaultAction"]))
    if not ctx:
        raise SystemExit("seccomp_profile: seccomp_init failed")
    for rule in profile["syscalls"]:
        act = action(rule["action"], rule.get("errnoRet", errno.EPERM))
        for name in rule["names"]:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0:  # not a system call of this architecture (vm86 on x86_64): runc skips it
                continue
            if lib.seccomp_rule_add(ctx, act, nr, 0) != 0:
                raise SystemExit(f"seccomp_profile: cannot add a rule for {name}")
    if lib.seccomp_load(ctx) != 0:
        raise SystemExit("seccomp_profile: seccomp_load failed")


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    with open(sys.argv[1]) as f:
        install(json.load(f))
    os.execvp(sys.argv[2], sys.argv[2:])


if __name__ == "__main__":
    main()
