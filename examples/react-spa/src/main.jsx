import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { BrowserRouter } from 'react-router'
import { createClient } from '@gatehouse/client'
import { GATEHOUSE_URL } from './config.js'
import { AuthProvider } from './auth.jsx'
import App from './App.jsx'

// One client for the page's lifetime: it holds the access token in memory.
const gatehouse = createClient({ url: GATEHOUSE_URL })

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <AuthProvider client={gatehouse}>
      <BrowserRouter>
        <App />
      </BrowserRouter>
    </AuthProvider>
  </StrictMode>,
)
