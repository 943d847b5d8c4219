package aws

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/seed8104ecd5/gizmo/pubsub"
)

// ErrAccessDenied is wrapped by errors for a call AWS refused for want of
// permission or valid credentials (AccessDenied, AuthorizationError,
// InvalidClientTokenId, a KMS key the caller may not use). It ends a
// [Subscriber]: its channel closes and Err wraps it. It wraps the portable
// [pubsub.ErrAccessDenied], which code that runs on any backend checks.
var ErrAccessDenied = fmt.Errorf("aws: access denied: %w", pubsub.ErrAccessDenied)

// errKind sorts AWS errors by what the adapter does about them.
type errKind int

const (
	// errRetry: worth trying again after a backoff (a dropped connection,
	// throttling, a 5xx, a server restart, anything unknown).
	errRetry errKind = iota
	// errNotFound: the queue or topic does not exist.
	errNotFound
	// errDenied: permission or credentials refused.
	errDenied
	// errLeaseLost: the receipt handle no longer holds the message.
	errLeaseLost
	// errInvalid: the request itself is wrong; retrying changes nothing.
	errInvalid
	// errCanceled: the caller's context ended.
	errCanceled
)

// Codes AWS uses for a missing queue or topic.
var notFoundCodes = map[string]bool{
	"QueueDoesNotExist":                       true,
	"AWS.SimpleQueueService.NonExistentQueue": true,
	"NotFound":                  true,
	"NotFoundException":         true,
	"ResourceNotFoundException": true,
}

// Codes AWS uses for refused permission or credentials.
var deniedCodes = map[string]bool{
	"AccessDenied":                true,
	"AccessDeniedException":       true,
	"AuthorizationError":          true,
	"AuthorizationErrorException": true,
	"InvalidClientTokenId":        true,
	"UnrecognizedClientException": true,
	"InvalidSecurity":             true,
	"KmsAccessDenied":             true,
	"KMSAccessDenied":             true,
	"KMSAccessDeniedException":    true,
}

// Codes for a receipt handle that no longer holds its message.
var leaseCodes = map[string]bool{
	"MessageNotInflight":                        true,
	"ReceiptHandleIsInvalid":                    true,
	"AWS.SimpleQueueService.MessageNotInflight": true,
}

// Codes of requests that are wrong in themselves.
var invalidCodes = map[string]bool{
	"InvalidParameterValue":        true,
	"InvalidParameter":             true,
	"InvalidMessageContents":       true,
	"InvalidAttributeName":         true,
	"InvalidAttributeValue":        true,
	"MissingParameter":             true,
	"TooManyEntriesInBatchRequest": true,
	"BatchRequestTooLong":          true,
	"BatchEntryIdsNotDistinct":     true,
	"InvalidBatchEntryId":          true,
	"EmptyBatchRequest":            true,
	"UnsupportedOperation":         true,
	"InvalidIdFormat":              true,
	"ValidationError":              true,
	"ParameterValueInvalid":        true,
}

// classify sorts err by what to do about it.
func classify(err error) errKind {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errCanceled
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return errRetry
	}
	code := ae.ErrorCode()
	switch {
	case notFoundCodes[code]:
		return errNotFound
	case deniedCodes[code]:
		return errDenied
	case leaseCodes[code] || isStaleHandle(code, ae.ErrorMessage()):
		return errLeaseLost
	case invalidCodes[code]:
		return errInvalid
	}
	return errRetry
}

// isStaleHandle recognises AWS's answer to a visibility change of a message
// that is no longer in flight: InvalidParameterValue naming the receipt
// handle.
func isStaleHandle(code, msg string) bool {
	return code == "InvalidParameterValue" && strings.Contains(strings.ToLower(msg), "receipthandle")
}

// classifyEntry sorts the failure of one batch entry, which AWS reports as
// a code and whether the sender was at fault.
func classifyEntry(code string, senderFault bool, msg string) errKind {
	switch {
	case notFoundCodes[code]:
		return errNotFound
	case deniedCodes[code]:
		return errDenied
	case leaseCodes[code] || isStaleHandle(code, msg):
		return errLeaseLost
	case !senderFault:
		return errRetry
	case strings.Contains(code, "Throttl") || code == "RequestThrottled" || code == "KmsThrottled":
		return errRetry
	}
	return errInvalid
}

// entryError is the error of one failed batch entry.
type entryError struct {
	Code        string
	Message     string
	SenderFault bool
}

// Error describes the failure with AWS's code and message.
func (e *entryError) Error() string {
	fault := "server"
	if e.SenderFault {
		fault = "sender"
	}
	return fmt.Sprintf("%s (%s fault): %s", e.Code, fault, e.Message)
}

// ErrorCode returns the AWS error code, as smithy.APIError does.
func (e *entryError) ErrorCode() string { return e.Code }

// ErrorMessage returns AWS's message, as smithy.APIError does.
func (e *entryError) ErrorMessage() string { return e.Message }

// ErrorFault reports whose fault it was, as smithy.APIError does.
func (e *entryError) ErrorFault() smithy.ErrorFault {
	if e.SenderFault {
		return smithy.FaultClient
	}
	return smithy.FaultServer
}

// wrapKind adds the sentinel that matches kind to err: a missing resource
// (notFound is the sentinel to use: ErrTopicNotFound for a publisher,
// ErrSubscriptionNotFound for a subscriber) or refused access.
func wrapKind(err error, kind errKind, notFound error) error {
	switch kind {
	case errNotFound:
		return fmt.Errorf("%w: %w", notFound, err)
	case errDenied:
		return fmt.Errorf("%w: %w", ErrAccessDenied, err)
	case errLeaseLost:
		return fmt.Errorf("%w: %w", pubsub.ErrLeaseLost, err)
	}
	return err
}
