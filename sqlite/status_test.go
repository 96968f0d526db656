package sqlite

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/sessioncheck"
	"github.com/gatehouse/gatehouse/storetest"
)

// TestStatusBatch reads one batch of checks directly (storetest.StatusBatch).
func TestStatusBatch(t *testing.T) {
	s := openTest(t)
	storetest.StatusBatch(t, s, func(checks []*sessioncheck.Check) error {
		c, err := s.openStatusConn()
		if err != nil {
			return err
		}
		defer c.close()
		_, err = c.read(checks, nil)
		return err
	})
}
