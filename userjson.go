package gatehouse

import "github.com/gatehouse/gatehouse/internal/jsonenc"

// AppendJSON appends u's JSON to dst: byte for byte what encoding/json
// makes of it (TestUserAppendJSON and FuzzUserAppendJSON hold it to that),
// without reflection. GET /me and every Require'd request's answer build it,
// so it is written out by hand; a field added to User or Profile must be
// added here too, which the tests catch.
func (u *User) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = jsonenc.AppendString(dst, u.ID)
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
	dst = jsonenc.AppendTime(dst, u.CreatedAt)
	dst = append(dst, `,"updated_at":`...)
	dst = jsonenc.AppendTime(dst, u.UpdatedAt)
	return append(dst, '}')
}

func appendJSONField(dst []byte, name string, s *string) []byte {
	dst = append(dst, name...)
	if s == nil {
		return append(dst, "null"...)
	}
	return jsonenc.AppendString(dst, *s)
}
