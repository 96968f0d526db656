import { useEffect, useState } from 'react'
import { Link, useNavigate } from 'react-router'
import { useAuth } from './auth.jsx'

// Callback is the route the provider sends the browser back to
// (/auth/:provider?code&state): the client posts code and state to
// Gatehouse, which starts the session.
export default function Callback() {
  const { client, syncUser } = useAuth()
  const navigate = useNavigate()
  const [error, setError] = useState(null)

  useEffect(() => {
    // StrictMode runs this twice in development; handleCallback answers
    // both calls with the one login.
    let active = true
    client.handleCallback().then(({ data, error }) => {
      if (!active) return
      if (error) {
        setError(error)
        return
      }
      // The protected page must see the user on its first render, whenever
      // the client reports SIGNED_IN.
      syncUser()
      navigate(localPath(data.returnTo), { replace: true })
    })
    return () => {
      active = false
    }
  }, [client, syncUser, navigate])

  if (!error) return <p>Signing in…</p>
  return (
    <>
      <p role="alert">Sign-in failed: {error.description || error.code}</p>
      <p>
        <Link to="/">Try again</Link>
      </p>
    </>
  )
}

// localPath keeps returnTo to a path of this app, never another site.
function localPath(returnTo) {
  return typeof returnTo === 'string' && returnTo.startsWith('/') && !returnTo.startsWith('//') ? returnTo : '/'
}
