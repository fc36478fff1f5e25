package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
)

// The cookie value (sluice's own format, version 1) is the unpadded
// base64url of
//
//	version (1) || nonce (12) || AES-256-GCM ciphertext || tag (16)
//
// sealed with a key derived from the secret by HKDF-SHA256, the version,
// the cookie's kind and its name as additional data. The plaintext is
//
//	session id (32) || creation time (8) || rolling offset (4) || idling offset (4)
//	|| audience || subject || consumer id || credential id || groups
//
// with integers big-endian, each string as a uvarint length and its bytes,
// and groups as a uvarint count plus one (0: none stored) and the strings.
const (
	formatVersion = 1
	sidSize       = 32
	nonceSize     = 12
	tagSize       = 16
	fixedSize     = sidSize + 8 + 4 + 4
	// maxCookieRead bounds the cookie values the plugin decodes.
	maxCookieRead = 8 << 10
	// maxCookieSize bounds name=value of an issued cookie (Kong's
	// MAX_COOKIE_SIZE, the size browsers keep).
	maxCookieSize = 4096
	// maxGroups bounds the groups kept in a session.
	maxGroups = 256
)

// kind tells a session cookie from a persistent ("remember") one: each is
// sealed for its kind only.
type kind byte

const (
	kindSession  kind = 's'
	kindRemember kind = 'r'
)

// data is what a cookie holds.
type data struct {
	sid     [sidSize]byte
	created int64  // unix seconds
	rolling uint32 // seconds from created to the last save
	idling  uint32 // seconds from the last save to the last touch
	// Kong's session data: audience, subject, and data[1..3].
	audience, subject        string
	consumerID, credentialID string
	groups                   []string // nil: none stored
}

// sealer seals and opens cookie values; it is safe for concurrent use.
type sealer struct {
	aead cipher.AEAD
	aad  map[kind][]byte
}

// newSealer derives the cookie key from secret. names are the cookie names
// by kind.
func newSealer(secret string, names map[kind]string) (*sealer, error) {
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, "sluice session cookie v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	s := &sealer{aead: aead, aad: make(map[kind][]byte, len(names))}
	for k, name := range names {
		s.aad[k] = append([]byte{formatVersion, byte(k)}, name...)
	}
	return s, nil
}

// seal returns the cookie value holding d.
func (s *sealer) seal(k kind, d *data) (string, error) {
	plain, err := appendData(make([]byte, 0, 128), d)
	if err != nil {
		return "", err
	}
	buf := make([]byte, 1+nonceSize, 1+nonceSize+len(plain)+tagSize)
	buf[0] = formatVersion
	_, _ = rand.Read(buf[1:]) // never fails: crypto/rand panics instead
	buf = s.aead.Seal(buf, buf[1:1+nonceSize], plain, s.aad[k])
	return base64.RawURLEncoding.EncodeToString(buf), nil
}

// open returns the data sealed in a cookie value of kind k; ok is false
// for a value that is too large, malformed, tampered with, sealed under
// another key or for another kind.
func (s *sealer) open(k kind, v string) (*data, bool) {
	if len(v) > maxCookieRead || len(v) < base64.RawURLEncoding.EncodedLen(1+nonceSize+tagSize) {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) < 1+nonceSize+tagSize || b[0] != formatVersion {
		return nil, false
	}
	ct := b[1+nonceSize:]
	plain, err := s.aead.Open(ct[:0], b[1:1+nonceSize], ct, s.aad[k])
	if err != nil {
		return nil, false
	}
	return parseData(plain)
}

var errTooLarge = errors.New("session data too large")

func appendData(b []byte, d *data) ([]byte, error) {
	if len(d.groups) > maxGroups {
		return nil, errTooLarge
	}
	b = append(b, d.sid[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(d.created))
	b = binary.BigEndian.AppendUint32(b, d.rolling)
	b = binary.BigEndian.AppendUint32(b, d.idling)
	for _, s := range [...]string{d.audience, d.subject, d.consumerID, d.credentialID} {
		b = appendString(b, s)
	}
	if d.groups == nil {
		return binary.AppendUvarint(b, 0), nil
	}
	b = binary.AppendUvarint(b, uint64(len(d.groups))+1)
	for _, g := range d.groups {
		b = appendString(b, g)
	}
	if len(b) > maxCookieSize {
		return nil, errTooLarge
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// parseData decodes a plaintext; any inconsistency makes it invalid.
func parseData(b []byte) (*data, bool) {
	if len(b) < fixedSize {
		return nil, false
	}
	d := &data{}
	copy(d.sid[:], b)
	b = b[sidSize:]
	created := binary.BigEndian.Uint64(b)
	if created > math.MaxInt64 {
		return nil, false
	}
	d.created = int64(created)
	d.rolling = binary.BigEndian.Uint32(b[8:])
	d.idling = binary.BigEndian.Uint32(b[12:])
	b = b[16:]
	for _, dst := range [...]*string{&d.audience, &d.subject, &d.consumerID, &d.credentialID} {
		var ok bool
		if *dst, b, ok = readString(b); !ok {
			return nil, false
		}
	}
	n, w := binary.Uvarint(b)
	if w <= 0 || n > maxGroups+1 {
		return nil, false
	}
	b = b[w:]
	if n > 0 {
		d.groups = make([]string, n-1)
		for i := range d.groups {
			var ok bool
			if d.groups[i], b, ok = readString(b); !ok {
				return nil, false
			}
		}
	}
	if len(b) != 0 {
		return nil, false
	}
	return d, true
}

func readString(b []byte) (string, []byte, bool) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return "", nil, false
	}
	b = b[w:]
	return string(b[:n]), b[n:], true
}
