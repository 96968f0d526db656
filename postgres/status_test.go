package postgres

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/storetest"
)

// TestStatusBatch reads one batch of checks directly (storetest.StatusBatch).
func TestStatusBatch(t *testing.T) {
	s := openAt(t, pgtest.Schema(t))
	storetest.StatusBatch(t, s, s.readStatuses)
}

// TestStatusAfterClose: a check after Close is ErrUnavailable, not a hang.
func TestStatusAfterClose(t *testing.T) {
	s := openAt(t, pgtest.Schema(t))
	s.Close()
	if _, _, err := s.SessionStatus(context.Background(), "s1"); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("SessionStatus after Close: %v, want ErrUnavailable", err)
	}
}
