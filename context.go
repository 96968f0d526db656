package gatehouse

import "context"

type userKey struct{}

// NewContext returns a copy of ctx that carries u.
func NewContext(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFromContext returns the user that authentication middleware stored in
// ctx, and reports whether there was one.
func UserFromContext(ctx context.Context) (*User, bool) {
	u, ok := ctx.Value(userKey{}).(*User)
	return u, ok && u != nil
}
