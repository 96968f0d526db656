import { useEffect, useState } from 'react'
import { Navigate } from 'react-router'
import { useAuth } from './auth.jsx'
import { API_URL } from './config.js'

// Notes is the protected page: it calls the API with the access token.
export default function Notes() {
  const { client, user, loading } = useAuth()
  const [notes, setNotes] = useState(null)
  const [error, setError] = useState(null)
  const signedIn = !!user

  useEffect(() => {
    if (!signedIn) return
    let active = true
    ;(async () => {
      try {
        const res = await client.fetch(`${API_URL}/notes`)
        const body = await res.json().catch(() => null)
        if (!active) return
        if (res.ok) setNotes(body?.notes ?? [])
        else setError(body?.error_description || body?.error || `the API answered ${res.status}`)
      } catch (e) {
        if (active) setError(`cannot reach the API at ${API_URL}: ${e.message}`)
      }
    })()
    return () => {
      active = false
    }
  }, [client, signedIn])

  if (loading) return <p>Loading…</p>
  if (!signedIn) return <Navigate to="/" replace />
  return (
    <>
      <h1>Notes</h1>
      {error && <p role="alert">{error}</p>}
      {!notes && !error && <p>Loading notes…</p>}
      {notes && notes.length === 0 && <p>No notes yet.</p>}
      {notes && notes.length > 0 && (
        <ul id="notes">
          {notes.map((note, i) => (
            <li key={note?.id ?? i}>{noteText(note)}</li>
          ))}
        </ul>
      )}
    </>
  )
}

// noteText shows a note whether the API sends strings or objects.
function noteText(note) {
  if (typeof note === 'string') return note
  return note?.text ?? note?.title ?? JSON.stringify(note)
}
