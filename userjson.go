package gatehouse

import (
	"time"
	"unicode/utf8"
)

// AppendJSON appends u's JSON to dst: byte for byte what encoding/json
// makes of it (TestUserAppendJSON and FuzzUserAppendJSON hold it to that),
// without reflection. GET /me and every Require'd request's answer build it,
// so it is written out by hand; a field added to User or Profile must be
// added here too, which the tests catch.
func (u *User) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, u.ID)
	dst = appendJSONField(dst, `,"login":`, u.Login)
	dst = appendJSONField(dst, `,"name":`, u.Name)
	dst = appendJSONField(dst, `,"company":`, u.Company)
	dst = appendJSONField(dst, `,"location":`, u.Location)
	dst = appendJSONField(dst, `,"email":`, u.Email)
	dst = appendJSONField(dst, `,"picture":`, u.Picture)
	if u.EmailVerified {
		dst = append(dst, `,"email_verified":true`...)
	} else {
		dst = append(dst, `,"email_verified":false`...)
	}
	dst = append(dst, `,"created_at":`...)
	dst = appendJSONTime(dst, u.CreatedAt)
	dst = append(dst, `,"updated_at":`...)
	dst = appendJSONTime(dst, u.UpdatedAt)
	return append(dst, '}')
}

func appendJSONField(dst []byte, name string, s *string) []byte {
	dst = append(dst, name...)
	if s == nil {
		return append(dst, "null"...)
	}
	return appendJSONString(dst, *s)
}

// appendJSONTime appends t as encoding/json does (time.Time.MarshalJSON).
func appendJSONTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as encoding/json does: HTML-safe (<, >
// and & escaped), U+2028 and U+2029 escaped, invalid UTF-8 replaced by
// U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
