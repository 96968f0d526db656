package gatehouse

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"an *Error", Errorf(EInvalidState, "x"), EInvalidState},
		{"a wrapped *Error", fmt.Errorf("ctx: %w", Errorf(EAccessDenied, "x")), EAccessDenied},
		{"an outage", fmt.Errorf("%w: connection refused", ErrUnavailable), EUnavailable},
		{"anything else", errors.New("boom"), EInternal},
	} {
		if got := ErrorCode(tc.err); got != tc.want {
			t.Errorf("%s: ErrorCode = %q, want %q", tc.name, got, tc.want)
		}
	}
}
