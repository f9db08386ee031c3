package main

import (
	"io"

	"github.com/rules-repro/rules_repro/tools/atomicfile"
	"github.com/rules-repro/rules_repro/tools/image"
)

func init() {
	register(command{"base", "extract the manifest and config of a base image from an OCI layout", cmdBase})
}

// cmdBase lets a build read a base image's manifest and config once, so that
// assembling images on top of it needs only these two small files.
func cmdBase(args []string, stdout io.Writer) error {
	fs := newFlags("base", "base --layout DIR [--platform os/arch] --manifest-out M --config-out C", stdout)
	var b image.BaseSpec
	var manifestOut, configOut string
	fs.StringVar(&b.Layout, "layout", "", "OCI layout directory")
	fs.StringVar(&b.Platform, "platform", "", "platform to pick when the layout holds several images")
	fs.StringVar(&b.Ref, "ref", "", "image to pick by its org.opencontainers.image.ref.name")
	fs.StringVar(&manifestOut, "manifest-out", "", "write the manifest here")
	fs.StringVar(&configOut, "config-out", "", "write the config here")
	if err := parse(fs, args); err != nil {
		return err
	}
	if b.Layout == "" || manifestOut == "" || configOut == "" {
		return usagef("--layout, --manifest-out and --config-out are required")
	}
	img, err := image.LoadBase(&b)
	if err != nil {
		return err
	}
	var out atomicfile.Group
	defer out.Abort()
	if err := out.WriteFile(manifestOut, img.ManifestBytes); err != nil {
		return err
	}
	if err := out.WriteFile(configOut, img.ConfigBytes); err != nil {
		return err
	}
	return out.Commit()
}
