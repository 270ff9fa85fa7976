package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/security"
	"github.com/bizevents/bizevents/engine/solution"
)

// Environment variables of serve's credentials.
const (
	envAPIKey       = "BIZEVENTS_API_KEY"
	envClientID     = "BIZEVENTS_CLIENT_ID"
	envClientSecret = "BIZEVENTS_CLIENT_SECRET"
	envTokenKey     = "BIZEVENTS_TOKEN_KEY"
)

// solutionWatchInterval is how often serve looks for solutions imported by
// another process.
const solutionWatchInterval = 2 * time.Second

// userNamespace derives stable user ids from credential names, so that the
// same key or client is the same user across restarts.
var userNamespace = uuid.MustParse("3c1b7e0a-4d2f-4e8b-9a61-0f5d2c7b9e42")

// devKeySuffix names the file next to a SQLite database that keeps the
// key made for a server started without credentials.
const devKeySuffix = ".apikey"

// newAuthenticator builds the credentials of serve from its options.
func newAuthenticator(ctx context.Context, o serveOptions, log *slog.Logger) (*security.Authenticator, error) {
	var cfg security.Config
	key := o.APIKey
	if key == "" && o.ClientID == "" {
		if isPostgres(o.DB.DB) {
			return nil, usagef("no credentials: set %s (or --api-key), or %s and %s", envAPIKey, envClientID, envClientSecret)
		}
		var made bool
		var err error
		if key, made, err = devKey(o.DB.DB + devKeySuffix); err != nil {
			return nil, err
		}
		how := "kept in"
		if made {
			how = "made and saved to"
		}
		log.InfoContext(ctx, "dev API key "+how+" "+o.DB.DB+devKeySuffix, "api_key", key)
	}
	if key != "" {
		cfg.APIKeys = []security.APIKey{{Name: "dev", Key: key, UserID: uuid.NewSHA1(userNamespace, []byte("apikey:dev"))}}
	}
	if o.ClientID != "" {
		if o.ClientSecret == "" {
			return nil, usagef("--client-id %s needs --client-secret (or %s)", o.ClientID, envClientSecret)
		}
		cfg.Clients = []security.Client{{ID: o.ClientID, Name: o.ClientID, SecretHash: security.HashSecret(o.ClientSecret),
			UserID: uuid.NewSHA1(userNamespace, []byte("client:"+o.ClientID))}}
		tk, err := tokenKey(o.TokenKey)
		if err != nil {
			return nil, err
		}
		cfg.TokenKeys = [][]byte{tk}
	}
	return security.New(cfg)
}

// tokenKey decodes BIZEVENTS_TOKEN_KEY (hex or base64), or makes a key.
func tokenKey(s string) ([]byte, error) {
	if s == "" {
		return security.NewTokenKey(), nil
	}
	if b, err := hex.DecodeString(s); err == nil && len(b) >= security.MinTokenKeyBytes {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) >= security.MinTokenKeyBytes {
			return b, nil
		}
	}
	return nil, usagef("%s must be at least %d bytes, hex or base64", envTokenKey, security.MinTokenKeyBytes)
}

// devKey reads the key kept in path, or makes one and keeps it there.
func devKey(path string) (key string, made bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if k := strings.TrimSpace(string(b)); k != "" {
			return k, false, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("read the dev API key: %w", err)
	}
	key = security.NewAPIKey()
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("save the dev API key: %w", err)
	}
	return key, true, nil
}

// importAtStart imports a solution folder given to serve.
func importAtStart(ctx context.Context, e *pipeline.Engine, host solution.PluginHost, dir string, log *slog.Logger) error {
	s, err := solution.Load(dir)
	if err != nil {
		return fmt.Errorf("solution %s: %w", dir, err)
	}
	if err := checkPlugins(ctx, s); err != nil {
		return fmt.Errorf("solution %s: %w", dir, err)
	}
	res, err := solution.Import(ctx, e.DB(), s, pipeline.Caller{})
	if err != nil {
		return err
	}
	if !res.Unchanged {
		log.InfoContext(ctx, "solution imported", "solution", res.Name, "version", res.Version, "previous", res.PreviousVersion)
	}
	return solution.Activate(ctx, e, host)
}
