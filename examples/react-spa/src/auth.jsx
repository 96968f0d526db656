import { createContext, useCallback, useContext, useEffect, useState } from 'react'

const AuthContext = createContext(null)

// isCallback reports whether the page was loaded on the provider's redirect
// (/auth/:provider). There is no session to restore there: the Callback
// route starts it, and a refresh sent at the same moment, before the
// refresh cookie exists, could only get in the login's way.
function isCallback() {
  return /^\/auth\/[^/]+\/?$/.test(window.location.pathname)
}

// AuthProvider makes the Gatehouse client and the signed-in user available
// to the app. On load it restores the session from the HttpOnly refresh
// cookie; `loading` is true until that is known.
export function AuthProvider({ client, children }) {
  const [user, setUser] = useState(() => client.user())
  const [loading, setLoading] = useState(() => !isCallback())
  const syncUser = useCallback(() => setUser(client.user()), [client])

  useEffect(() => {
    const off = client.onAuthStateChange(syncUser)
    let active = true
    if (!isCallback()) {
      client.getAccessToken().then(({ error }) => {
        if (!active) return
        if (error) console.warn('restoring the session:', error.code, error.description)
        syncUser()
        setLoading(false)
      })
    }
    return () => {
      active = false
      off()
    }
  }, [client, syncUser])

  return <AuthContext.Provider value={{ client, user, loading, syncUser }}>{children}</AuthContext.Provider>
}

// useAuth returns { client, user, loading, syncUser }; syncUser reads the
// user from the client again, for a caller that has just changed it.
export function useAuth() {
  const auth = useContext(AuthContext)
  if (!auth) throw new Error('useAuth must be used inside <AuthProvider>')
  return auth
}
