package postgres

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// TestPipelineTransactions: a pipeline is all or nothing, whether its
// transaction is one batch (implicit: no BEGIN or COMMIT is sent) or
// several (BEGIN with the first, COMMIT with the last).
func TestPipelineTransactions(t *testing.T) {
	s := openAt(t, pgtest.Schema(t))
	ctx := context.Background()
	if _, err := s.pool.Exec(ctx, `CREATE TABLE pipeline_test (v int)`); err != nil {
		t.Fatal(err)
	}
	rows := func() int {
		t.Helper()
		return count(t, s, `SELECT count(*) FROM pipeline_test`)
	}
	batch := func(queries ...string) *pgx.Batch {
		b := &pgx.Batch{}
		for _, q := range queries {
			b.Queue(q)
		}
		return b
	}
	run := func(batches ...*pgx.Batch) error {
		return s.pipelineTx(ctx, func(p *pipeline) error {
			for i, b := range batches {
				n := b.Len()
				if err := p.send(b, i == len(batches)-1, func(br pgx.BatchResults) error { return execAll(br, n) }); err != nil {
					return err
				}
			}
			return nil
		})
	}

	if err := run(batch(`INSERT INTO pipeline_test VALUES (1)`, `INSERT INTO pipeline_test VALUES (2)`)); err != nil {
		t.Fatalf("one batch: %v", err)
	}
	if n := rows(); n != 2 {
		t.Fatalf("after one batch: %d rows, want 2", n)
	}
	if err := run(batch(`INSERT INTO pipeline_test VALUES (3)`, `SELECT 1/0`)); err == nil {
		t.Fatal("one batch with a failing statement: no error")
	}
	if n := rows(); n != 2 {
		t.Errorf("after a failed batch: %d rows, want 2 (its insert rolled back)", n)
	}
	if err := run(batch(`INSERT INTO pipeline_test VALUES (4)`), batch(`SELECT 1/0`)); err == nil {
		t.Fatal("two batches, the second failing: no error")
	}
	if n := rows(); n != 2 {
		t.Errorf("after a failed second batch: %d rows, want 2 (the first batch's insert rolled back)", n)
	}
	if err := run(batch(`INSERT INTO pipeline_test VALUES (5)`), batch(`INSERT INTO pipeline_test VALUES (6)`)); err != nil {
		t.Fatalf("two batches: %v", err)
	}
	if n := rows(); n != 4 {
		t.Errorf("after two batches: %d rows, want 4", n)
	}
	if err := run(batch(`SELECT 1`)); err != nil {
		t.Errorf("a pipeline after the others: %v", err)
	}
}
