// Package wire holds the message rules and encodings every gizmo pubsub
// adapter shares, so that a message looks the same on every backend and
// round-trips through any of them.
//
//   - [Validate] checks the contract's rules: keys, attribute names and
//     values are valid UTF-8, names are not empty, and the reserved prefix
//     [pubsub.ReservedPrefix] is gizmo's.
//   - A [Codec] turns a message into what a backend can carry: a body and
//     string attributes. A payload the backend cannot carry as is (not
//     UTF-8, empty, characters SQS rejects) travels as standard base64,
//     with [AttrEncoding] set to "base64"; the empty payload is written
//     "=". An attribute whose name or value the backend cannot carry
//     travels under the escaped name [EscapePrefix] followed by the
//     lower-case, unpadded base32hex of its name, with its value in
//     standard base64 ("=" for the empty value). The key travels as
//     [pubsub.AttrKey] where the backend has no key field. Decoding
//     reverses all of it and drops any other name with the reserved
//     prefix, except the public [pubsub.AttrDeadLetter].
//   - [KeyGate] keeps the batch rule: once a message of key K failed, later
//     messages of K in the same call are not sent.
//
// Names built with the reserved prefix never collide with a user's
// attribute, because Validate refuses user names with that prefix.
package wire
