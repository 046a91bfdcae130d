package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SlackTextMax bounds the text of a Slack message; Slack truncates longer
// ones (its documented limit is 40,000 characters).
const SlackTextMax = 39000

// Slack posts messages to a Slack incoming webhook. The webhook URL is a
// secret: it appears in no error, log line or String result.
type Slack struct {
	url    string
	client *http.Client
}

var _ Sink = (*Slack)(nil)

// NewSlack returns a sink posting to webhookURL with client (nil: a client of
// its own with Go's default transport; the Dispatcher bounds each request).
// The URL must be absolute http or https; the error never repeats it.
func NewSlack(webhookURL string, client *http.Client) (*Slack, error) {
	u, err := url.Parse(webhookURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("alert: Slack webhook URL is not an absolute http(s) URL (-slack-webhook-url; value withheld)")
	}
	if client == nil {
		client = &http.Client{}
	}
	return &Slack{url: webhookURL, client: client}, nil
}

// Name returns "slack".
func (s *Slack) Name() string { return "slack" }

// String describes the sink without its secret URL.
func (s *Slack) String() string { return "slack webhook (URL withheld)" }

// LogValue keeps the URL out of structured logs.
func (s *Slack) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Send posts m as {"text": …}: the subject in bold and the body in a code
// block. 429 and 5xx responses, connection errors and timeouts are
// retryable; other non-2xx responses are not.
func (s *Slack) Send(ctx context.Context, m Message) error {
	payload, err := json.Marshal(struct {
		Text string `json:"text"`
	}{SlackText(m)})
	if err != nil {
		return fmt.Errorf("alert: slack: encode message: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(payload))
	if err != nil {
		return errors.New("alert: slack: build request (URL withheld)")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		// *url.Error repeats the URL: keep only what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &RetryableError{Err: fmt.Errorf("alert: slack: post to webhook: %w", err)}
	}
	defer resp.Body.Close()
	detail, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode/100 == 2 {
		return nil
	}
	err = fmt.Errorf("alert: slack: webhook answered %s: %q", resp.Status, strings.TrimSpace(string(detail)))
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return &RetryableError{Err: err, After: retryAfter(resp.Header.Get("Retry-After"))}
	}
	return err
}

// SlackText is the mrkdwn text Slack receives for m.
func SlackText(m Message) string {
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	body := esc.Replace(strings.ReplaceAll(m.Body, "```", "'''"))
	return "*" + esc.Replace(oneLine(m.Subject)) + "*\n```\n" + truncateRunes(body, SlackTextMax) + "\n```"
}

func retryAfter(h string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return 0
}
