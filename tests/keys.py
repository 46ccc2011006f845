"""The pseudonymisation key of the test suite.

The collector has no default key (a key in the source makes pseudonyms reversible); tests
pass this one explicitly.  Never use it outside tests.
"""

TEST_KEY = b"medtap-test-suite-key-not-for-deployments"
