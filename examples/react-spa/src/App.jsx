import { Link, Route, Routes, useNavigate } from 'react-router'
import { useAuth } from './auth.jsx'
import Home from './Home.jsx'
import Callback from './Callback.jsx'
import Notes from './Notes.jsx'

export default function App() {
  return (
    <>
      <Header />
      <main>
        <Routes>
          <Route path="/" element={<Home />} />
          <Route path="/auth/:provider" element={<Callback />} />
          <Route path="/notes" element={<Notes />} />
          <Route path="*" element={<p>Nothing here. <Link to="/">Home</Link></p>} />
        </Routes>
      </main>
    </>
  )
}

function Header() {
  const { client, user, syncUser } = useAuth()
  const navigate = useNavigate()

  async function signOut() {
    const { error } = await client.signOut()
    if (error) console.warn('signing out:', error.code, error.description)
    syncUser()
    navigate('/')
  }

  return (
    <header>
      <nav>
        <Link to="/">Home</Link> · <Link to="/notes">Notes</Link>
      </nav>
      {user && (
        <p>
          Signed in as <strong id="user-name">{user.name || user.login}</strong>{' '}
          <button id="sign-out" onClick={signOut}>
            Sign out
          </button>
        </p>
      )}
    </header>
  )
}
