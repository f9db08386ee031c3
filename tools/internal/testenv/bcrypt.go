package testenv

// A minimal bcrypt ($2y$, as written by Apache's `htpasswd -B`) in the
// standard library only, so that htpasswd files can be written when
// apache2-utils is not installed. golang.org/x/crypto is not a dependency of
// this module.
//
// Blowfish's initial P-array and S-boxes are the hexadecimal digits of the
// fractional part of pi; they are computed once with math/big (Machin's
// formula) instead of being spelled out as 1042 constants. Tests pin known
// words of the tables and known bcrypt hashes.

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math/big"
	"sync"
)

// bcryptEncoding is bcrypt's own base64 alphabet, without padding.
var bcryptEncoding = base64.NewEncoding("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789").WithPadding(base64.NoPadding)

type blowfish struct {
	p [18]uint32
	s [4][256]uint32
}

var (
	piOnce   sync.Once
	piCipher blowfish
)

// initialBlowfish returns Blowfish's initial state: 18+1024 words of pi's
// fractional hexadecimal digits.
func initialBlowfish() blowfish {
	piOnce.Do(func() {
		const words = 18 + 4*256
		const guard = 64
		bits := uint(words*32 + guard)
		one := new(big.Int).Lsh(big.NewInt(1), bits)
		// pi = 16*atan(1/5) - 4*atan(1/239), in fixed point with `bits` fraction bits.
		pi := new(big.Int).Mul(arctanInv(5, one), big.NewInt(16))
		pi.Sub(pi, new(big.Int).Mul(arctanInv(239, one), big.NewInt(4)))
		frac := new(big.Int).Mod(pi, one)
		frac.Rsh(frac, guard)
		b := frac.FillBytes(make([]byte, words*4))
		word := func(i int) uint32 {
			return uint32(b[4*i])<<24 | uint32(b[4*i+1])<<16 | uint32(b[4*i+2])<<8 | uint32(b[4*i+3])
		}
		for i := range piCipher.p {
			piCipher.p[i] = word(i)
		}
		for box := range piCipher.s {
			for i := range piCipher.s[box] {
				piCipher.s[box][i] = word(18 + box*256 + i)
			}
		}
	})
	return piCipher
}

// arctanInv returns atan(1/x) scaled by one.
func arctanInv(x int64, one *big.Int) *big.Int {
	sum := new(big.Int)
	xx := big.NewInt(x * x)
	power := new(big.Int).Div(one, big.NewInt(x)) // one / x^(2k+1)
	term := new(big.Int)
	for k := int64(0); power.Sign() != 0; k++ {
		term.Div(power, big.NewInt(2*k+1))
		if k%2 == 0 {
			sum.Add(sum, term)
		} else {
			sum.Sub(sum, term)
		}
		power.Div(power, xx)
	}
	return sum
}

func (c *blowfish) f(x uint32) uint32 {
	return ((c.s[0][x>>24] + c.s[1][x>>16&0xff]) ^ c.s[2][x>>8&0xff]) + c.s[3][x&0xff]
}

func (c *blowfish) encrypt(l, r uint32) (uint32, uint32) {
	l ^= c.p[0]
	for i := 1; i <= 16; i += 2 {
		r ^= c.f(l) ^ c.p[i]
		l ^= c.f(r) ^ c.p[i+1]
	}
	r ^= c.p[17]
	return r, l
}

// streamWord reads the next 32-bit word from data, cycling over it.
func streamWord(data []byte, pos *int) uint32 {
	var w uint32
	for i := 0; i < 4; i++ {
		w = w<<8 | uint32(data[*pos])
		*pos = (*pos + 1) % len(data)
	}
	return w
}

// expand is Blowfish's key schedule with bcrypt's salt extension; a nil salt
// is the plain ("expand 0") variant.
func (c *blowfish) expand(key, salt []byte) {
	kp := 0
	for i := range c.p {
		c.p[i] ^= streamWord(key, &kp)
	}
	sp := 0
	var l, r uint32
	next := func() {
		if salt != nil {
			l ^= streamWord(salt, &sp)
			r ^= streamWord(salt, &sp)
		}
		l, r = c.encrypt(l, r)
	}
	for i := 0; i < len(c.p); i += 2 {
		next()
		c.p[i], c.p[i+1] = l, r
	}
	for box := range c.s {
		for i := 0; i < 256; i += 2 {
			next()
			c.s[box][i], c.s[box][i+1] = l, r
		}
	}
}

// bcryptHash returns the "$2y$" hash of password with the given cost and
// 16-byte salt.
func bcryptHash(password []byte, cost int, salt []byte) (string, error) {
	if cost < 4 || cost > 31 {
		return "", fmt.Errorf("bcrypt: cost %d outside 4..31", cost)
	}
	if len(salt) != 16 {
		return "", fmt.Errorf("bcrypt: salt is %d bytes, want 16", len(salt))
	}
	key := append(append([]byte{}, password...), 0)
	if len(key) > 72 {
		key = key[:72]
	}
	c := initialBlowfish()
	c.expand(key, salt)
	for i := uint64(0); i < 1<<uint(cost); i++ {
		c.expand(key, nil)
		c.expand(salt, nil)
	}
	text := []byte("OrpheanBeholderScryDoubt")
	var words [6]uint32
	for i := range words {
		words[i] = uint32(text[4*i])<<24 | uint32(text[4*i+1])<<16 | uint32(text[4*i+2])<<8 | uint32(text[4*i+3])
	}
	for i := 0; i < 64; i++ {
		for j := 0; j < 6; j += 2 {
			words[j], words[j+1] = c.encrypt(words[j], words[j+1])
		}
	}
	out := make([]byte, 24)
	for i, w := range words {
		out[4*i], out[4*i+1], out[4*i+2], out[4*i+3] = byte(w>>24), byte(w>>16), byte(w>>8), byte(w)
	}
	return fmt.Sprintf("$2y$%02d$%s%s", cost, bcryptEncoding.EncodeToString(salt), bcryptEncoding.EncodeToString(out[:23])), nil
}

// bcryptNew hashes password with a random salt.
func bcryptNew(password string, cost int) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	return bcryptHash([]byte(password), cost, salt)
}

// bcryptVerify reports whether hash (any of $2a$, $2b$, $2y$) matches password.
func bcryptVerify(hash, password string) (bool, error) {
	var cost int
	if len(hash) != 60 || hash[0] != '$' || hash[1] != '2' || hash[3] != '$' || hash[6] != '$' {
		return false, fmt.Errorf("bcrypt: malformed hash %q", hash)
	}
	if _, err := fmt.Sscanf(hash[4:6], "%02d", &cost); err != nil {
		return false, fmt.Errorf("bcrypt: malformed cost in %q", hash)
	}
	salt, err := bcryptEncoding.DecodeString(hash[7:29])
	if err != nil {
		return false, fmt.Errorf("bcrypt: malformed salt in %q: %v", hash, err)
	}
	got, err := bcryptHash([]byte(password), cost, salt)
	if err != nil {
		return false, err
	}
	return got[7:] == hash[7:], nil
}
