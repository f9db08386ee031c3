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
