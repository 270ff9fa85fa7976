package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// listenLoop keeps a connection LISTENing on the schema's channel, so that
// seals made by other processes wake this process's waiters. After a
// reconnect it wakes everyone, since notifications may have been missed.
func (s *Store) listenLoop(ctx context.Context) {
	var pause time.Duration
	for ctx.Err() == nil {
		err := s.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		s.log.WarnContext(ctx, "listener lost its connection", "err", err)
		pause = grow(pause, errorMin, errorMax)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
	}
}

func (s *Store) listen(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel(s.cfg.Schema)}.Sanitize()); err != nil {
		return err
	}
	s.head.Advance(0) // anything sealed while we were not listening
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		pos, err := strconv.ParseInt(n.Payload, 10, 64)
		if err != nil {
			continue
		}
		s.head.Advance(pos)
	}
}
