// Package deploy holds Gatehouse's deployment files (Dockerfile, systemd
// unit, example environment file) and the tests that keep them honest: the
// binary they describe is built with the Dockerfile's own flags, checked to
// be static, and run with the unit's settings as a non-root user.
package deploy
