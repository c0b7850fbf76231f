"""Repository rules that make Debian's packaged Bazel rules usable offline.

Bazel 4.2.3 (Debian's bazel-bootstrap) must build with no network at all, so
every external repository here comes from a folder that a Debian package
installed. Nothing is downloaded.
"""

def _debian_rules_cc_impl(rctx):
    src = rctx.path(rctx.attr.path)
    if not src.exists:
        fail("%s is missing: install Debian's bazel-rules-cc (tools/dev does)" % src)

    # Copy the package tree as symlinks, then overwrite the files we patch.
    result = rctx.execute(["cp", "-rs", str(src) + "/.", "."])
    if result.return_code != 0:
        fail("copying %s failed: %s" % (src, result.stderr))

    # rules_cc 0.0.4 loads use_cpp_toolchain(), which Bazel 4.2 lacks; the
    # plain toolchain type label is what that helper returns there anyway.
    for rel in [
        "cc/private/rules_impl/cc_flags_supplier.bzl",
        "cc/private/rules_impl/compiler_flag.bzl",
    ]:
        text = rctx.read(str(src) + "/" + rel)
        text = text.replace(', "use_cpp_toolchain")', ")")
        text = text.replace(
            "use_cpp_toolchain()",
            '["@bazel_tools//tools/cpp:toolchain_type"]',
        )
        rctx.delete(rel)
        rctx.file(rel, text, executable = False)

    # The root BUILD loads bazel_skylib, which we do not have and do not need.
    rctx.delete("BUILD")
    rctx.file("BUILD", 'licenses(["notice"])\n')
    rctx.delete("WORKSPACE")
    rctx.file("WORKSPACE", 'workspace(name = "rules_cc")\n')

debian_rules_cc = repository_rule(
    implementation = _debian_rules_cc_impl,
    attrs = {"path": attr.string(default = "/usr/share/bazel/rules/cc")},
    local = True,
    doc = "Debian's rules_cc 0.0.4, adapted to Bazel 4.2.",
)

def _coverage_tools_stub_impl(rctx):
    # cc_test carries implicit dependencies on these two labels even when no
    # coverage is collected; upstream fetches them from the network.
    rctx.file("WORKSPACE", 'workspace(name = "remote_coverage_tools")\n')
    rctx.file("stub.sh", "#!/bin/sh\necho 'coverage is not supported in this offline build' >&2\nexit 1\n", executable = True)
    rctx.file("BUILD", """
package(default_visibility = ["//visibility:public"])

sh_binary(name = "lcov_merger", srcs = ["stub.sh"])

sh_binary(name = "coverage_report_generator", srcs = ["stub.sh"])
""")

coverage_tools_stub = repository_rule(
    implementation = _coverage_tools_stub_impl,
    doc = "A local stand-in for @remote_coverage_tools, so tests build offline.",
)
