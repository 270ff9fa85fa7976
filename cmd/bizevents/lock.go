package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/bizevents/bizevents/engine/errcode"
)

// serveLock is the lock a serve holds on a SQLite database: one process
// runs the router and the workers of a SQLite file (several on one
// PostgreSQL share the work instead). The command line's other commands
// (log, jobs, solution import) may still use the file alongside it.
type serveLock struct{ f *os.File }

// lockSQLite takes the serve lock of the SQLite database at path, or says
// which process holds it.
func lockSQLite(path string) (*serveLock, error) {
	name := path + ".serve.lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(name)
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &ownedError{path: path, pid: strings.TrimSpace(string(pid))}
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &serveLock{f: f}, nil
}

// release gives the lock up.
func (l *serveLock) release() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Truncate(0)
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}

// ownedError is a second serve on a SQLite file: code unavailable.
type ownedError struct{ path, pid string }

func (e *ownedError) Error() string {
	who := "another bizevents serve"
	if e.pid != "" {
		who += " (pid " + e.pid + ")"
	}
	return fmt.Sprintf("%s already serves the SQLite database %s: one process owns a SQLite file; stop that one, use another --db, or share a PostgreSQL database between processes", who, e.path)
}

func (e *ownedError) ErrorCode() errcode.Code { return errcode.Unavailable }
