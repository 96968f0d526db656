import { useEffect, useState } from 'react'
import { Link } from 'react-router'
import { useAuth } from './auth.jsx'

export default function Home() {
  const { client, user, loading } = useAuth()

  if (loading) return <p>Loading…</p>
  return (
    <>
      <h1>Gatehouse React example</h1>
      {user ? (
        <p>
          Welcome back. Your <Link to="/notes">notes</Link> are waiting.
        </p>
      ) : (
        <SignIn client={client} />
      )}
    </>
  )
}

function SignIn({ client }) {
  const [providers, setProviders] = useState(null)
  const [error, setError] = useState(null)

  useEffect(() => {
    let active = true
    client.providers().then(({ data, error }) => {
      if (!active) return
      setProviders(data)
      setError(error)
    })
    return () => {
      active = false
    }
  }, [client])

  async function signIn(name) {
    // On success the browser leaves for the provider.
    const { error } = await client.signIn(name, { returnTo: '/notes' })
    if (error) setError(error)
  }

  return (
    <>
      {error && <p role="alert">{error.description || error.code}</p>}
      {providers ? (
        <ul id="providers">
          {providers.map((p) => (
            <li key={p.name}>
              <button onClick={() => signIn(p.name)}>Sign in with {p.display_name}</button>
            </li>
          ))}
        </ul>
      ) : (
        !error && <p>Loading sign-in options…</p>
      )}
    </>
  )
}
