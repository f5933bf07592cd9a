package pvesim

import "fmt"

// The simulator keeps no file systems. A test that needs to know whether a
// volume's data survived an operation (an image update handing volumes to
// a new container, say) writes a token onto the volume and reads it back:
// the token belongs to the volume, so it moves with a reassigned volume
// and is gone with a destroyed one.

// SetVolumeContent writes data onto the volume volid.
func (s *Server) SetVolumeContent(volid, data string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.stores {
		if v := st.byID[volid]; v != nil {
			v.data = data
			return nil
		}
	}
	return fmt.Errorf("volume %s does not exist", volid)
}

// VolumeContent is what SetVolumeContent wrote onto volid ("" if nothing,
// or no such volume).
func (s *Server) VolumeContent(volid string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.stores {
		if v := st.byID[volid]; v != nil {
			return v.data
		}
	}
	return ""
}
