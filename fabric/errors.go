package fabric

import (
	"errors"
	"strings"

	"github.com/aws/smithy-go"
)

// errorCode is the AWS error code of err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isNotFound reports whether err says the resource does not exist.
func isNotFound(err error) bool {
	c := errorCode(err)
	return strings.Contains(c, "NotFound") || c == "NoSuchEntity" || c == "NoSuchBucket" || c == "NoSuchKey"
}
