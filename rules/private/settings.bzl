"""Build settings and configuration-dependent values, without bazel_skylib."""

SettingInfo = provider(
    doc = "The value of a build setting or of a configuration-dependent constant.",
    fields = {"value": "the value (int, string or bool)"},
)

def _flag_impl(ctx):
    return [SettingInfo(value = ctx.build_setting_value)]

int_flag = rule(
    implementation = _flag_impl,
    build_setting = config.int(flag = True),
    doc = "An integer command-line flag.",
)

string_flag = rule(
    implementation = _flag_impl,
    build_setting = config.string(flag = True),
    doc = "A string command-line flag.",
)

def _value_impl(ctx):
    return [SettingInfo(value = ctx.attr.value)]

bool_value = rule(
    implementation = _value_impl,
    attrs = {"value": attr.bool()},
    doc = "A boolean whose value comes from a select(), read by rules through a private attribute.",
)

# The private attribute of the `bazel run` rules that reads
# --@rules_repro//rules/settings:registry_ca.
REGISTRY_CA_ATTRS = {
    "_registry_ca": attr.label(default = Label("//rules/settings:registry_ca"), providers = [SettingInfo]),
}

def _shell_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"

def registry_ca_export(ctx):
    """Shell lines that export REPRO_REGISTRY_CA from the registry_ca setting.

    Run them before changing directory: a relative path is taken from the
    directory `bazel run` was started in. The setting, when given, wins over
    the environment (it is the explicit choice); when it is empty the
    environment's REPRO_REGISTRY_CA (if any) is left as it is.

    Args:
      ctx: the context of a rule with REGISTRY_CA_ATTRS.

    Returns:
      The lines, ending with a newline ("" when the setting is empty).
    """
    ca = ctx.attr._registry_ca[SettingInfo].value
    if not ca:
        return ""
    return """\
_repro_ca={ca}
case "$_repro_ca" in /*) ;; *) _repro_ca="${{BUILD_WORKING_DIRECTORY:-$PWD}}/$_repro_ca" ;; esac
export REPRO_REGISTRY_CA="$_repro_ca"
""".format(ca = _shell_quote(ca))
