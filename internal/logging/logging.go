// Package logging gives dxprobe and dxappliance one log format: slog's
// text lines on stderr by default (time=… level=… msg=… key=value), or
// one JSON object per line with -log-format json (env LOG_FORMAT), for a
// log shipper.
package logging

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
)

// The values of -log-format.
const (
	Text = "text" // slog.TextHandler, the default
	JSON = "json" // slog.JSONHandler
)

// FlagName and EnvName are the flag and the environment variable that
// choose the format.
const (
	FlagName = "log-format"
	EnvName  = "LOG_FORMAT"
)

// Define defines -log-format on fs and returns where its value goes.
func Define(fs *flag.FlagSet) *string {
	return fs.String(FlagName, Text, "log format on stderr: text (key=value) or json (one object per line) (env "+EnvName+")")
}

// Check returns nil when format is a known format, else a "want …"
// phrase for the caller's error.
func Check(format string) error {
	if format != Text && format != JSON {
		return fmt.Errorf("want %s or %s", Text, JSON)
	}
	return nil
}

// New returns a logger writing format to w at level Info.
func New(w io.Writer, format string) (*slog.Logger, error) {
	if err := Check(format); err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if format == JSON {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}
