package postgres

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Count returns the login states and sessions live at now
// (gatehouse.Counter).
func (s *Store) Count(ctx context.Context, now time.Time) (gatehouse.Counts, error) {
	ctx, cancel := context.WithTimeout(ctx, OperationTimeout)
	defer cancel()
	var c gatehouse.Counts
	err := s.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM login_states WHERE expires_at > $1),
		(SELECT count(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > $1 AND idle_expires_at > $1)`,
		toDB(now)).Scan(&c.LoginStates, &c.Sessions)
	return c, wrap(err)
}
