package security

// HashSecretIterations is hashSecret, for tests that cannot wait for
// HashIterations.
func HashSecretIterations(secret string, iterations int) string {
	return hashSecret(secret, iterations)
}
