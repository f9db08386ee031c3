// Command registryconf writes a docker-registry configuration (and, with
// -user, its htpasswd file) for e2e/lib/services.sh, from the same code the
// Go tests use (package registryconf).
//
//	registryconf -out DIR/registry.yml -addr 127.0.0.1:PORT -storage DIR/storage \
//	    -secret HEX [-tls-cert F -tls-key F] [-htpasswd F -user U -password-file P]
//
// The password is read from a file so it does not show in the process list.
// Files are written under a temporary name and renamed.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/rules-repro/rules_repro/tools/atomicfile"
	"github.com/rules-repro/rules_repro/tools/internal/registryconf"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "registryconf:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("registryconf", flag.ContinueOnError)
	var c registryconf.Config
	out := fs.String("out", "", "configuration file to write")
	fs.StringVar(&c.Addr, "addr", "", "listen address 127.0.0.1:PORT")
	fs.StringVar(&c.Storage, "storage", "", "storage root directory")
	fs.StringVar(&c.Secret, "secret", "", "http secret")
	fs.BoolVar(&c.Delete, "delete", false, "enable DELETE")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "server certificate (PEM)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "server key (PEM)")
	fs.StringVar(&c.Htpasswd, "htpasswd", "", "htpasswd file to write and use")
	fs.StringVar(&c.Service, "service", "e2e-registry", "service name in the log")
	user := fs.String("user", "", "user name for -htpasswd")
	passFile := fs.String("password-file", "", "file holding the password for -htpasswd")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		return fmt.Errorf("-out is required")
	}
	if (c.Htpasswd == "") != (*user == "") {
		return fmt.Errorf("-htpasswd and -user go together")
	}
	yaml, err := c.YAML()
	if err != nil {
		return err
	}
	if c.Htpasswd != "" {
		pass, err := os.ReadFile(*passFile)
		if err != nil {
			return fmt.Errorf("-password-file: %v", err)
		}
		line, err := registryconf.HtpasswdLine(*user, strings.TrimSuffix(string(pass), "\n"))
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(c.Htpasswd, []byte(line+"\n")); err != nil {
			return err
		}
	}
	return atomicfile.WriteFile(*out, yaml)
}
