package alert

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// SNSAPI is the part of the SNS API the SNS sink calls, with the SDK's exact
// signature. *sns.Client satisfies it.
type SNSAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

var _ SNSAPI = (*sns.Client)(nil)

// SNS limits. AWS documents subjects as "less than 100 characters", so a
// subject is cut to 99; a message is cut to the default topic limit of
// 256 KiB (bytes, not characters).
const (
	SNSSubjectMax = 99
	SNSMessageMax = 256 * 1024
)

// SNS publishes messages to one SNS topic.
type SNS struct {
	api   SNSAPI
	topic string
}

var _ Sink = (*SNS)(nil)

// NewSNS returns a sink publishing to topicARN through api. The ARN must be
// an SNS ARN (arn:aws:sns:region:account:name).
func NewSNS(api SNSAPI, topicARN string) (*SNS, error) {
	if api == nil {
		return nil, errors.New("alert: nil SNS client")
	}
	a, err := arn.Parse(topicARN)
	if err != nil || a.Service != "sns" || a.Resource == "" {
		return nil, fmt.Errorf("alert: SNS topic ARN %q is not an SNS topic ARN (-sns-topic-arn)", topicARN)
	}
	return &SNS{api: api, topic: topicARN}, nil
}

// Name returns "sns".
func (s *SNS) Name() string { return "sns" }

// Send publishes m: the subject as one line of at most SNSSubjectMax
// characters, the body within SNSMessageMax bytes. Throttling, 5xx
// responses, connection errors and timeouts are retryable.
func (s *SNS) Send(ctx context.Context, m Message) error {
	subject, message := SNSText(m)
	_, err := s.api.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(s.topic),
		Subject:  aws.String(subject),
		Message:  aws.String(message),
	})
	if err == nil {
		return nil
	}
	err = fmt.Errorf("alert: sns publish to %s: %w", s.topic, err)
	if retryableAWS(err) {
		return &RetryableError{Err: err}
	}
	return err
}

// SNSText is the subject and message SNS receives for m.
func SNSText(m Message) (subject, message string) {
	subject = truncateRunes(oneLine(m.Subject), SNSSubjectMax)
	message = m.Subject + "\n\n" + m.Body
	return subject, truncateBytes(message, SNSMessageMax, "\n… (truncated)\n")
}

func retryableAWS(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary {
		return true
	}
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}
