// Package testpg gives tests a PostgreSQL of their own: it finds the server,
// creates the test database once, and hands each test a fresh schema name
// that is dropped when the test ends.
//
// The server is BIZEVENTS_TEST_PG (default postgres://postgres@127.0.0.1:5432/
// bizevents_test). When it cannot be reached the test is skipped, except with
// CI=true, where it fails: in CI an integration test never skips.
package testpg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultURL is the test server and database when BIZEVENTS_TEST_PG is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/bizevents_test?sslmode=disable"

// schemaPrefix marks schemas made by tests, so a sweep can find leftovers.
const schemaPrefix = "t_"

// staleAfter is how old a test schema must be before a sweep drops it.
const staleAfter = time.Hour

var (
	once    sync.Once
	onceErr error
	connURL string
)

// URL returns the connection string of the test database, creating the
// database and sweeping stale test schemas on first use. It skips t when the
// server is unreachable, or fails it when CI=true.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() { connURL, onceErr = prepare() })
	if onceErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required in CI: %v", onceErr)
		}
		t.Skipf("PostgreSQL not available (set BIZEVENTS_TEST_PG): %v", onceErr)
	}
	return connURL
}

// Schema returns a new unique schema name for t (not created: the code under
// test creates it) and drops it, with everything in it, when t ends.
func Schema(t testing.TB) string {
	t.Helper()
	url := URL(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.ToLower(fmt.Sprintf("%s%d_%s_%s", schemaPrefix, time.Now().Unix(), hex.EncodeToString(b[:]), cleanName(t.Name())))
	if len(name) > 63 {
		name = name[:63]
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

var nonWord = regexp.MustCompile(`[^a-zA-Z0-9]+`)

func cleanName(s string) string {
	s = nonWord.ReplaceAllString(s, "_")
	if len(s) > 30 {
		s = s[len(s)-30:]
	}
	return s
}

func prepare() (string, error) {
	url := os.Getenv("BIZEVENTS_TEST_PG")
	if url == "" {
		url = DefaultURL
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", url, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := createDatabase(ctx, cfg); err != nil {
		return "", err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	return url, sweep(ctx, conn)
}

// createDatabase creates the test database through the maintenance database
// when it does not exist yet.
func createDatabase(ctx context.Context, cfg *pgx.ConnConfig) error {
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect to %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cfg.Database}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505") {
		return nil // exists, or created concurrently by another test binary
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", cfg.Database, err)
	}
	return nil
}

// sweep drops test schemas left by crashed runs.
func sweep(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", schemaPrefix+"%")
	if err != nil {
		return fmt.Errorf("list test schemas: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list test schemas: %w", err)
	}
	for _, n := range names {
		parts := strings.SplitN(strings.TrimPrefix(n, schemaPrefix), "_", 2)
		created, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil || time.Since(time.Unix(created, 0)) < staleAfter {
			continue
		}
		_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{n}.Sanitize()+" CASCADE")
	}
	return nil
}
