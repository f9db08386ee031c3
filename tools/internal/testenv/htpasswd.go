package testenv

import (
	"fmt"
	"os/exec"
	"strings"
)

// htpasswdCost is the bcrypt cost of generated entries: the lowest allowed.
// docker-registry checks the password on every request, so a higher cost
// only slows tests down.
const htpasswdCost = 4

// htpasswdLine returns one "user:$2y$..." line for an htpasswd file, and
// which tool wrote it. It runs `htpasswd -nbB` (apache2-utils) when that is
// installed and otherwise uses the bcrypt in this package; docker-registry
// 2.8 accepts only bcrypt entries, and accepts both.
func htpasswdLine(user, password string) (line, tool string, err error) {
	if strings.ContainsAny(user, ":\n") {
		return "", "", fmt.Errorf("htpasswd: user name %q must not contain ':' or a newline", user)
	}
	if p, lookErr := exec.LookPath("htpasswd"); lookErr == nil {
		out, runErr := exec.Command(p, "-nbB", "-C", fmt.Sprint(htpasswdCost), user, password).Output()
		if runErr == nil {
			line = strings.TrimSpace(string(out))
			if strings.HasPrefix(line, user+":$2") {
				return line, p + " -nbB", nil
			}
		}
		// Fall through to the built-in bcrypt on any surprise.
	}
	hash, err := bcryptNew(password, htpasswdCost)
	if err != nil {
		return "", "", err
	}
	return user + ":" + hash, "built-in bcrypt", nil
}
